package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilotage/pilotage/internal/config"
)

// New checks every component section of the configuration file against
// the component's config schema, which "pilotage generate" embeds in the
// app binary and New reads from it without running it, and fails with
// every problem before anything starts: a misspelt key in testapp.Web's
// section used to make its replicas exit until it was marked failed, and
// the app never got ready.
func TestNewChecksComponentConfigUpFront(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a real application")
	}
	bin, err := buildLoadApp()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	newWith := func(text string) error {
		path := filepath.Join(t.TempDir(), "pilotage.toml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Read(path) // the file alone is fine: it cannot know Web's config type
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(ctx, Options{App: "loadapp", Binary: bin, Config: cfg, ConfigPath: path, StateDir: stateDir(t)})
		if err != nil {
			err = &pathError{err: err, path: path}
		}
		return err
	}

	err = newWith("[components.\"testapp.Web\"]\nbsae = \"/\"\n\n[components.\"testapp.Calc\"]\nfail_init = \"yes\"\n")
	for _, want := range []string{
		`FILE:2:9: unknown key "components.\"testapp.Web\".bsae"`,
		`FILE:4: [components."testapp.Calc"]: github.com/pilotage/pilotage/internal/testapp.Calc takes no configuration`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v\nwant an error containing %q", err, want)
		}
	}
	if err := newWith("[components.\"testapp.Web\"]\nfail_init = false\n"); err != nil {
		t.Errorf("New with a section that fits: %v", err)
	}
}

// pathError shows a temporary file's path as FILE, so expected messages
// can be written down.
type pathError struct {
	err  error
	path string
}

func (e *pathError) Error() string { return strings.ReplaceAll(e.err.Error(), e.path, "FILE") }

// New fails before anything starts when a unit's program does not exist;
// it used to be found only when the unit was started.
func TestNewChecksUnitCommands(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig("[units.db]\ncommand = \"no-such-db-pilotage\"\nrequired_by = [\"main.Main\"]\n")
	_, err = New(context.Background(), Options{App: "test", Binary: self, Config: cfg, Description: desc("*main.Main"), StateDir: stateDir(t)})
	want := `test.toml:2:12: [units.db] command = "no-such-db-pilotage": exec: "no-such-db-pilotage": executable file not found in $PATH`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New: %v\nwant an error containing %q", err, want)
	}
}
