package pilotage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes text to name in dir and returns its path.
func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadConfig reads $PILOTAGE_CONFIG if set, else pilotage.toml in the
// working directory if there is one, else nothing; a file that is missing
// when named, or broken, is an error naming the file (and the place).
func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string // file name in the env dir for PILOTAGE_CONFIG, "" for unset
		envText string
		cwdText string // text of pilotage.toml in the working directory, "" for none
		app     string // want this app name
		errs    []string
	}{
		{name: "none", app: ""},
		{name: "working directory", cwdText: "[app]\nname = \"cwd\"\n", app: "cwd"},
		{name: "env", env: "other.toml", envText: "[app]\nname = \"env\"\n", app: "env"},
		{name: "env wins over working directory", env: "other.toml", envText: "[app]\nname = \"env\"\n", cwdText: "[app]\nname = \"cwd\"\n", app: "env"},
		{name: "env names a missing file", env: "missing.toml", cwdText: "[app]\nname = \"cwd\"\n",
			errs: []string{"read config:", "missing.toml", "no such file"}},
		{name: "broken in working directory", cwdText: "[app]\nname = \"cwd\"\nnmae = \"typo\"\n",
			errs: []string{"load config:", `pilotage.toml:3:`, `unknown key "app.nmae"`}},
		{name: "broken env file", env: "broken.toml", envText: "[app\n",
			errs: []string{"broken.toml:", "table name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cwd, envDir := t.TempDir(), t.TempDir()
			t.Chdir(cwd)
			if tc.cwdText != "" {
				writeConfig(t, cwd, "pilotage.toml", tc.cwdText)
			}
			envPath := ""
			if tc.env != "" {
				envPath = filepath.Join(envDir, tc.env)
				if tc.envText != "" {
					writeConfig(t, envDir, tc.env, tc.envText)
				}
			}
			t.Setenv("PILOTAGE_CONFIG", envPath)

			cfg, err := loadConfig()
			if tc.errs != nil {
				if err == nil {
					t.Fatalf("loadConfig() = %+v, nil; want an error", cfg)
				}
				for _, want := range tc.errs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("loadConfig() error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.App.Name != tc.app {
				t.Errorf("app name = %q; want %q", cfg.App.Name, tc.app)
			}
		})
	}
}
