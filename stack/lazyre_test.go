package stack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestLazyRegexpsCompile: a pattern compiled on first use would panic only
// on the (often error) path that uses it; each one is compiled here.
func TestLazyRegexpsCompile(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	n := 0
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "lazyRegexp" || len(call.Args) != 1 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: lazyRegexp of a non-literal: test it where it is built", fset.Position(call.Pos()))
				return true
			}
			expr, _ := strconv.Unquote(lit.Value)
			if _, err := regexp.Compile(expr); err != nil {
				t.Errorf("%s: %v", fset.Position(call.Pos()), err)
			}
			n++
			return true
		})
	}
	if n < 20 {
		t.Errorf("found %d lazy patterns; the walk missed them", n)
	}
}
