package api

import (
	"net/url"
	"strings"
)

// Names of the collections of the tree.
const (
	Apps       = "apps"
	Components = "components"
	Replicas   = "replicas"
	Groups     = "groups"
	Units      = "units"
	Listeners  = "listeners"
	Startup    = "startup"
)

// Join returns the path of the resource whose path elements are elems,
// each percent-encoded as a URL path segment: Join("apps", "shop") is
// "/apps/shop", Join("apps", "shop", "components", "example.com/x.X") is
// "/apps/shop/components/example.com%2Fx.X". Join() is "/".
func Join(elems ...string) string {
	if len(elems) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, e := range elems {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(e))
	}
	return b.String()
}

// Split returns the path elements of path, decoded: the inverse of Join.
// The path must be absolute; a trailing slash is ignored; an empty
// element, ".", ".." or a bad escape is an error wrapping ErrBadRequest.
func Split(path string) ([]string, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, Errorf(CodeBadRequest, "path %q: not absolute", path)
	}
	rest := strings.TrimSuffix(path[1:], "/")
	if rest == "" {
		return nil, nil
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		e, err := url.PathUnescape(p)
		if err != nil {
			return nil, Errorf(CodeBadRequest, "path %q: %v", path, err)
		}
		if e == "" || e == "." || e == ".." {
			return nil, Errorf(CodeBadRequest, "path %q: element %d is %q", path, i+1, e)
		}
		parts[i] = e
	}
	return parts, nil
}

// Clean returns the canonical form of path, as resources carry it: every
// element encoded as Join does. Its error is Split's.
func Clean(path string) (string, error) {
	elems, err := Split(path)
	if err != nil {
		return "", err
	}
	return Join(elems...), nil
}

// Parent returns the path of the resource holding the resource at the
// clean path p: Parent("/apps/shop") is "/apps", Parent("/apps") is "/",
// and Parent("/") is "".
func Parent(p string) string {
	if p == "/" || p == "" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// Base returns the last element of the clean path p, decoded: the name of
// its resource ("" for "/").
func Base(p string) string {
	e := p[strings.LastIndexByte(p, '/')+1:]
	if d, err := url.PathUnescape(e); err == nil {
		return d
	}
	return e
}

// Within reports whether the clean path p is root or below it.
func Within(p, root string) bool {
	if root == "/" || p == root {
		return true
	}
	return strings.HasPrefix(p, root) && len(p) > len(root) && p[len(root)] == '/'
}
