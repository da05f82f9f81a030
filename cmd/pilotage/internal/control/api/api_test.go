package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
)

func TestPaths(t *testing.T) {
	for _, elems := range [][]string{nil, {"apps"}, {"apps", "shop", "components", "example.com/x.X"}, {"apps", "a b%c", "units", "r?d#s"}} {
		p := Join(elems...)
		got, err := Split(p)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(elems) && len(elems) > 0 {
			t.Errorf("Split(Join(%q)) = %q, %v (path %q)", elems, got, err, p)
		}
		if len(elems) > 0 && Base(p) != elems[len(elems)-1] {
			t.Errorf("Base(%q) = %q", p, Base(p))
		}
	}
	if p := Join("apps", "shop", "components", "example.com/x.X"); p != "/apps/shop/components/example.com%2Fx.X" || Parent(p) != "/apps/shop/components" {
		t.Errorf("Join: %q, parent %q", p, Parent(p))
	}
	if Parent("/apps") != "/" || Parent("/") != "" {
		t.Errorf("Parent(/apps) = %q, Parent(/) = %q", Parent("/apps"), Parent("/"))
	}
	for _, bad := range []string{"apps", "/apps//shop", "/apps/../x", "/apps/%zz"} {
		if _, err := Split(bad); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Split(%q): %v", bad, err)
		}
	}
	if c, err := Clean("/apps/shop/"); err != nil || c != "/apps/shop" {
		t.Errorf("Clean: %q, %v", c, err)
	}
	for _, tc := range []struct {
		p, root string
		want    bool
	}{{"/apps/shop", "/", true}, {"/apps/shop", "/apps", true}, {"/apps/shopping", "/apps/shop", false}, {"/apps", "/apps", true}} {
		if Within(tc.p, tc.root) != tc.want {
			t.Errorf("Within(%q, %q) = %v", tc.p, tc.root, !tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	finer := NewError(CodeNotFound, "no such component")
	err := fmt.Errorf("stop x: %w", Errorf(CodeConflict, "busy: %w", io.EOF))
	switch {
	case !errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), !errors.Is(err, io.EOF):
		t.Errorf("Errorf: %v", err)
	case CodeOf(err) != CodeConflict, CodeOf(io.EOF) != CodeInternal:
		t.Errorf("CodeOf: %s, %s", CodeOf(err), CodeOf(io.EOF))
	case !errors.Is(fmt.Errorf("%w: x", finer), ErrNotFound), errors.Is(ErrNotFound, finer):
		t.Error("a finer sentinel does not match its code's only")
	case errors.Is(&Error{Code: "new_code"}, ErrInternal):
		t.Error("an unknown code matches a sentinel")
	}
	for code, status := range statuses {
		if HTTPStatus(code) != status || CodeForStatus(status) != code {
			t.Errorf("%s: %d, %s", code, HTTPStatus(code), CodeForStatus(status))
		}
	}
	if CodeForStatus(http.StatusTeapot) != CodeBadRequest || CodeForStatus(http.StatusBadGateway) != CodeInternal {
		t.Error("CodeForStatus of other statuses")
	}
}
