package shell

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/kubetest"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree/kubefs"
)

// The shell on a real kube-apiserver: edit meets a change made underneath
// and shows it; a 403 and a missing object are one line and a non-zero
// status (the kubefs tests cover discovery and CRDs).
func TestShellOnKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	c := kubetest.Start(t)
	fs, err := kubefs.New(kubefs.Options{Kubeconfig: c.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	root := tree.NewRoot()
	root.Mount("kube", fs)
	var out, errOut bytes.Buffer
	s := New(Options{Root: root, Home: "/kube/admin", Stdout: &out, Stderr: &errOut})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := c.Clientset(t, kubetest.Admin)
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Data: map[string]string{"rate": "10"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if st := run(t, s, "ls namespaces/default/configmaps"); st != 0 || !strings.Contains(out.String(), "limits\n") {
		t.Fatalf("ls: %d %q %q", st, out.String(), errOut.String())
	}

	// The editor's first run changes the object on the server as another
	// user would, then edits the file; the second run sees the diff.
	dir := t.TempDir()
	changer := filepath.Join(dir, "changer")
	if err := os.WriteFile(changer, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
				cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "limits", metav1.GetOptions{})
				if err == nil {
					cm.Data["burst"] = "5"
					_, err = cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
				}
				if err != nil {
					t.Errorf("change underneath: %v", err)
				}
				os.WriteFile(filepath.Join(dir, "done"), nil, 0o600)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	s.editor = editor(t, `if grep -q 'changed while you edited' "$f"; then cp "$f" `+dir+`/second; exit 0; fi
touch `+dir+`/go; while [ ! -e `+dir+`/done ]; do sleep 0.05; done
sed -i 's/rate: "10"/rate: "20"/' "$f"`)
	out.Reset()
	if st := run(t, s, "edit namespaces/default/configmaps/limits"); st != 0 {
		t.Fatalf("edit: %d %q %q", st, out.String(), errOut.String())
	}
	second, err := os.ReadFile(filepath.Join(dir, "second"))
	if err != nil {
		t.Fatalf("the editor was not reopened after the conflict: %v; stderr %q", err, errOut.String())
	}
	if !strings.Contains(string(second), `# +  burst: "5"`) || !strings.Contains(string(second), `rate: "20"`) {
		t.Errorf("the reopened file does not show the change underneath and keep the edit:\n%s", second)
	}
	cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "limits", metav1.GetOptions{})
	if err != nil || cm.Data["rate"] != "20" {
		t.Errorf("after the edit: %v %v", cm.Data, err)
	}

	// A 403: one line, status 1.
	s.cwd = "/kube/viewer"
	errOut.Reset()
	if st := run(t, s, "ls namespaces/default/secrets"); st != ExitError || strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "forbidden") {
		t.Errorf("ls of a forbidden resource: %d %q", st, errOut.String())
	}
	errOut.Reset()
	if st := run(t, s, "cat /kube/admin/namespaces/default/configmaps/gone"); st != ExitNotFound || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("cat of a missing object: %d %q", st, errOut.String())
	}
}
