package appfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/cmd/pilotage/internal/control/api"
	"github.com/pilotage/pilotage/cmd/pilotage/internal/tree"
)

// execGrace is how long a command whose context ended has, after SIGTERM,
// before it is killed; and how long Exec waits, once it exited, for
// processes it left holding its output.
const execGrace = 5 * time.Second

// Exec runs req.Command in the replica at p: on this machine, with the
// environment and working directory the supervisor started the replica's
// process with, its program looked up in that environment's PATH. It
// returns the command's exit status, 128+n if signal n killed it.
func (f *FS) Exec(ctx context.Context, p string, req tree.ExecRequest) (int, error) {
	l, t, err := f.find(ctx, p)
	if err != nil {
		return 0, err
	}
	if l == nil || t.added != "" || t.method != nil || !t.node.Exec {
		return 0, tree.NotSupported("exec in", p)
	}
	if len(req.Command) == 0 {
		return 0, &pathError{msg: fmt.Sprintf("exec in %s: no command", p), kind: tree.ErrInvalid}
	}
	env, err := l.cache.client.Env(ctx, t.entry.res.Path)
	if err != nil {
		return 0, f.fail(ctx, "exec in", l, err)
	}
	return runLocal(ctx, l.path, env, req)
}

// runLocal runs req.Command in env, the replica at path's. Streams that
// are files (a terminal) are given to the command as they are.
func runLocal(ctx context.Context, path string, env *api.ReplicaEnv, req tree.ExecRequest) (int, error) {
	prog, err := lookPath(req.Command[0], envValue(env.Env, "PATH"), env.Dir)
	if err != nil {
		return 0, &pathError{msg: fmt.Sprintf("exec in %s: %v", path, err), kind: tree.ErrNotFound, cause: err}
	}
	cmd := exec.Command(prog, req.Command[1:]...)
	cmd.Args[0] = req.Command[0]
	cmd.Env, cmd.Dir = env.Env, env.Dir
	cmd.Stdout, cmd.Stderr = req.Stdout, req.Stderr
	if req.TTY {
		cmd.Stderr = req.Stdout
	}
	var stdin io.WriteCloser
	switch in := req.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = in
	default:
		// Copied here rather than by exec, whose Wait would wait for
		// the reader's end: a terminal's may never come.
		if stdin, err = cmd.StdinPipe(); err != nil {
			return 0, fmt.Errorf("exec in %s: %w", path, err)
		}
	}
	cmd.WaitDelay = execGrace
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", path, err)
	}
	done := make(chan struct{})
	defer close(done)
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, req.Stdin) // the command may exit before reading it all
			stdin.Close()                    // half-closes: the command reads EOF
		}()
	}
	if req.Resize != nil {
		// A local command reads its terminal's size itself.
		go func() {
			for {
				select {
				case <-done:
					return
				case _, ok := <-req.Resize:
					if !ok {
						return
					}
				}
			}
		}()
	}
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(execGrace):
				_ = cmd.Process.Kill()
			}
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
	case errors.As(err, &ee):
	default:
		return 0, fmt.Errorf("exec in %s: %w", path, err)
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}

// envValue returns the value of name in env, its last if given twice.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// lookPath returns the program file of name: name itself if it holds a
// slash (relative to dir), else the first executable file of that name in
// path's directories (relative ones, and an empty one for ".", to dir).
func lookPath(name, path, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the replica's PATH (%s)", name, path)
}

// executable returns nil if p is an executable regular file.
func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: not an executable file", fs.ErrPermission)
	}
	return nil
}
