package state

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stateRoot makes XDG_STATE_HOME a fresh directory and returns the state
// root under it.
func stateRoot(t *testing.T) string {
	t.Helper()
	home := tempDir(t)
	t.Setenv(StateDirEnv, "")
	t.Setenv("XDG_STATE_HOME", home)
	return filepath.Join(home, "pilotage")
}

// Two checkouts of one app get two state directories; two paths to one
// checkout get one.
func TestStateDirPerSource(t *testing.T) {
	root := stateRoot(t)
	src := tempDir(t)
	a, b := filepath.Join(src, "a", "shop"), filepath.Join(src, "b", "shop")
	da, err := StateDir("shop", a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := StateDir("shop", b)
	if err != nil {
		t.Fatal(err)
	}
	if da == db {
		t.Errorf("both checkouts use %s", da)
	}
	for _, d := range []string{da, db} {
		if filepath.Dir(d) != root || !regexp.MustCompile(`^shop-[0-9a-f]{8}$`).MatchString(filepath.Base(d)) {
			t.Errorf("state directory %s, want %s/shop-<8 hex>", d, root)
		}
	}
	os.MkdirAll(a, 0o700)
	link := filepath.Join(src, "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	if d, err := StateDir("shop", link); err != nil || d != da {
		t.Errorf("through a symlink: %s, %v; want %s", d, err, da)
	}
	if d, err := StateDir("bank", a); err != nil || d == da {
		t.Errorf("another name in the same directory: %s, %v", d, err)
	}
	t.Setenv(StateDirEnv, "/somewhere")
	if d, err := StateDir("shop", a); err != nil || d != "/somewhere" {
		t.Errorf("with $%s: %s, %v", StateDirEnv, d, err)
	}
}

// makeApp gives app from source a state directory with an app.json, and
// returns the directory.
func makeApp(t *testing.T, app, source string) string {
	t.Helper()
	dir, err := StateDir(app, source)
	if err != nil {
		t.Fatal(err)
	}
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := WriteAppInfo(dir, AppInfo{Name: app, Dir: source}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Find picks the app of the current directory, else the only running app,
// else (for logs) the only app with state, and lists the candidates when
// several fit.
func TestFind(t *testing.T) {
	root := stateRoot(t)
	src := tempDir(t)
	srcA, srcB := filepath.Join(src, "a", "shop"), filepath.Join(src, "b", "shop")
	os.MkdirAll(filepath.Join(srcA, "catalog"), 0o700)
	dirA, dirB := makeApp(t, "shop", srcA), makeApp(t, "shop", srcB)
	makeApp(t, "bank", filepath.Join(src, "bank"))
	legacy := filepath.Join(root, "legacy") // made by an earlier release
	os.MkdirAll(legacy, 0o700)
	lockB, err := Lock(dirB, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { lockB.Close() }()
	elsewhere := tempDir(t)
	spaces := regexp.MustCompile(` +`) // the table's columns are aligned

	find := func(q Query, want string) {
		t.Helper()
		a, err := Find(q)
		if err != nil || a.StateDir != want {
			t.Errorf("Find(%+v) = %+v, %v; want %s", q, a, err, want)
		}
	}
	findErr := func(q Query, want ...string) error {
		t.Helper()
		a, err := Find(q)
		if err == nil {
			t.Errorf("Find(%+v) = %+v, want an error", q, a)
			return nil
		}
		for _, w := range want {
			if !strings.Contains(spaces.ReplaceAllString(err.Error(), " "), w) {
				t.Errorf("Find(%+v): %v\nwant it to say %q", q, err, w)
			}
		}
		return err
	}
	idA, idB := filepath.Base(dirA), filepath.Base(dirB)

	find(Query{Cwd: filepath.Join(srcA, "catalog"), Stopped: true}, dirA)
	find(Query{App: "shop", Cwd: srcA, Stopped: true}, dirA)
	findErr(Query{Cwd: srcA}, "app "+idA+" of the current directory ("+srcA+") is not running; these are", idB)
	find(Query{Cwd: elsewhere}, dirB)
	find(Query{Cwd: elsewhere, Stopped: true}, dirB)
	find(Query{App: "shop", Cwd: elsewhere, Stopped: true}, dirB)
	find(Query{App: idA, Cwd: elsewhere, Stopped: true}, dirA)
	find(Query{App: "legacy", Stopped: true}, legacy)
	findErr(Query{App: "bank", Cwd: elsewhere}, "app bank is not running; these are", idB)
	findErr(Query{App: "nope", Stopped: true}, "no app nope has state in "+root, idA, "legacy")

	lockB.Close()
	err = findErr(Query{App: "shop", Cwd: elsewhere, Stopped: true},
		"2 apps have state; name one (by its ID where names repeat), or run the command inside its source directory:\n",
		idA+" shop stopped "+srcA, idB+" shop stopped "+srcB)
	var amb *AmbiguousError
	if !errors.As(err, &amb) || len(amb.Apps) != 2 {
		t.Errorf("not an *AmbiguousError of 2 apps: %#v", err)
	}
	findErr(Query{Cwd: elsewhere, Stopped: true}, "4 apps have state", "\n legacy legacy stopped -\n")
	findErr(Query{Cwd: elsewhere}, "no app is running")
}

// otherUserEnv makes TestPermissionDenied run as another user, in a
// child process.
const otherUserEnv = "PILOTAGE_TEST_OTHER_USER"

// A state directory the user may not read is reported as such, not as "no
// app is running", by Find. Permission
// checks do not apply to root: run as root, the test runs its checks in a
// copy of the test binary run as uid 65534 (nobody).
func TestPermissionDenied(t *testing.T) {
	if os.Getenv(otherUserEnv) != "" {
		checkPermissionDenied(t, os.Getenv(otherUserEnv) == "root")
		return
	}
	base := tempDir(t)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(StateDirEnv, "")
	t.Setenv("XDG_STATE_HOME", base)
	dir, err := StateDir("shop", "/src/shop")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		checkPermissionDenied(t, false)
		return
	}
	// The root is the user's, the app's directory (0700) root's.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(base, "state.test")
	if err := copyFile(exe, self); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestPermissionDenied$", "-test.count=1")
	cmd.Dir = base
	cmd.Env = append(os.Environ(), otherUserEnv+"=root", "XDG_STATE_HOME="+base, "HOME="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Errorf("as uid 65534: %v\n%s", err, out)
	}
}

// checkPermissionDenied is TestPermissionDenied for a user who may not
// read the one app's state directory; byRoot: it belongs to root.
func checkPermissionDenied(t *testing.T, byRoot bool) {
	root, err := StateRoot()
	if err != nil {
		t.Fatal(err)
	}
	apps, err := Apps(root)
	if err != nil || len(apps) != 1 {
		t.Fatalf("Apps = %+v, %v", apps, err)
	}
	dir := apps[0].StateDir
	want := "state directory " + dir + ": permission denied: "
	if byRoot {
		want += "it belongs to uid 0 (you are uid 65534)"
	} else {
		want += filepath.Base(dir) + " has mode d---------"
	}
	for _, q := range []Query{{}, {App: "shop"}, {App: "shop", Stopped: true}} {
		_, err := Find(q)
		if err == nil || err.Error() != want || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Find(%+v): %v\nwant: %s", q, err, want)
		}
	}
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestLockAndRunning(t *testing.T) {
	root := tempDir(t)
	t.Setenv(StateDirEnv, "")
	t.Setenv("XDG_STATE_HOME", root)
	dir, err := StateDir("shop", "/src/shop")
	if err != nil || filepath.Dir(dir) != filepath.Join(root, "pilotage") || !strings.HasPrefix(filepath.Base(dir), "shop-") {
		t.Fatalf("StateDir = %q, %v", dir, err)
	}
	if _, err := Find(Query{}); err == nil || !strings.Contains(err.Error(), "no app is running") {
		t.Errorf("Find with nothing running: %v", err)
	}
	f, err := Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v", fi.Mode().Perm())
	}
	if _, err := Lock(dir, "shop"); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("app shop is already running (pid %d)", os.Getpid())) {
		t.Errorf("second lock: %v", err)
	}
	if a, err := Find(Query{}); err != nil || a.StateDir != dir || !a.Running || a.PID != os.Getpid() {
		t.Errorf("Find = %+v, %v", a, err)
	}
	if a, err := Find(Query{App: "shop"}); err != nil || a.StateDir != dir {
		t.Errorf("Find(shop) = %+v, %v", a, err)
	}
	f.Close()
	if _, ok := Running(dir); ok {
		t.Error("still running after unlock")
	}
	if _, err := Find(Query{App: "shop"}); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Find after stop: %v", err)
	}
	if _, err := StateDir("../x", "/src/x"); err == nil {
		t.Error("StateDir accepted a path")
	}
}

// An existing state directory is used as it is: not chmod'ed, its files
// kept. One that others can write to, or that is not a directory, is
// refused.
func TestLockExistingDir(t *testing.T) {
	dir := filepath.Join(tempDir(t), "mine")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Lock(dir, "shop")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "keep" {
		t.Errorf("notes.txt: %q, %v", b, err)
	}
	open := filepath.Join(tempDir(t), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := Lock(open, "shop"); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("world-writable dir: %v", err)
	}
	file := filepath.Join(tempDir(t), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Lock(file, "shop"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
}

// The lock names the app holding it; a status probe (an instant shared
// lock) does not make a starting run fail; an app name that does not
// match the app running in $PILOTAGE_STATE_DIR is reported.
func TestLockHolder(t *testing.T) {
	dir := tempDir(t)
	t.Setenv(StateDirEnv, dir)
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); f.Close() }()
	lock, err := Lock(dir, "shop")
	if err != nil {
		t.Fatalf("Lock while a probe holds a shared lock: %v", err)
	}
	defer lock.Close()
	if _, err := Lock(dir, "bank"); err == nil || !strings.Contains(err.Error(), "in use by app shop (pid ") {
		t.Errorf("lock of another app: %v", err)
	}
	if a, err := Find(Query{App: "shop"}); err != nil || a.StateDir != dir {
		t.Errorf("Find(shop) = %+v, %v", a, err)
	}
	if _, err := Find(Query{App: "bank"}); err == nil || !strings.Contains(err.Error(), "app bank is not running in "+dir+": app shop is") {
		t.Errorf("Find(bank): %v", err)
	}
}

func tempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
