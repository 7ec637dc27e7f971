package renderer

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// Screen expressions are parsed by expr-lang/expr and then compiled into Go
// closures over a small, safe subset: literals, names, member and index
// access, comparison, arithmetic, boolean logic, ?:, ?? and a fixed set of
// functions. Ranges (1..1e9), predicates (map, filter, all ...), closures,
// let, regex matching and method calls are refused, so every expression
// finishes in time linear in its size and the data it touches: there is no
// way to loop. Closures also avoid expr's VM and reflection on the render
// path.

type evalFn func(st *state) any

// cexpr is a compiled expression; constant ones are folded at compile time.
type cexpr struct {
	fn      evalFn
	isConst bool
	val     any
}

func (c cexpr) eval(st *state) any {
	if c.isConst {
		return c.val
	}
	return c.fn(st)
}

func constExpr(v any) cexpr { return cexpr{isConst: true, val: v, fn: func(*state) any { return v }} }

// scope maps names to frame slots at compile time.
type scope struct {
	names  map[string]int
	parent *scope
	frame  *frameInfo
	// params lists declared screen parameters, so params.typo is an error.
	params map[string]bool
	// loops counts enclosing for loops, to bound nesting.
	loops int
}

// frameInfo is shared by a compile unit's scopes: its slot count, and
// whether an expression depends on the render's current date.
type frameInfo struct {
	n   int
	now bool
}

func newScope(params map[string]bool) *scope {
	return &scope{names: map[string]int{}, frame: &frameInfo{}, params: params}
}

func (s *scope) child() *scope {
	return &scope{names: map[string]int{}, parent: s, frame: s.frame, params: s.params, loops: s.loops}
}

func (s *scope) declare(name string) int {
	slot := s.frame.n
	s.frame.n++
	s.names[name] = slot
	return slot
}

func (s *scope) lookup(name string) (int, bool) {
	for c := s; c != nil; c = c.parent {
		if slot, ok := c.names[name]; ok {
			return slot, true
		}
	}
	return 0, false
}

func (s *scope) visible() []string {
	var out []string
	for c := s; c != nil; c = c.parent {
		for n := range c.names {
			out = append(out, n)
		}
	}
	return out
}

// exprError is positioned by byte offset within the expression source.
type exprError struct {
	off int
	msg string
}

func (e *exprError) Error() string { return e.msg }

func compileExpr(src string, sc *scope) (c cexpr, err *exprError) {
	if len(src) > maxExprLen {
		return cexpr{}, &exprError{0, fmt.Sprintf("expression is longer than %d characters", maxExprLen)}
	}
	if strings.TrimSpace(src) == "" {
		return cexpr{}, &exprError{0, "empty expression"}
	}
	cfg := conf.CreateNew()
	cfg.MaxNodes = maxExprNodes
	cfg.DisableIfOperator = false
	tree, perr := parser.ParseWithConfig(src, cfg)
	if perr != nil {
		msg := perr.Error()
		off := 0
		if fe, ok := perr.(*file.Error); ok {
			msg = fe.Message
			off = fe.From
		}
		return cexpr{}, &exprError{off, msg}
	}
	defer func() {
		// The subset compiler must never crash the linter on odd ASTs.
		if r := recover(); r != nil {
			err = &exprError{0, fmt.Sprintf("cannot compile expression: %v", r)}
		}
	}()
	return compileNode(tree.Node, sc)
}

func refuse(n ast.Node, format string, args ...any) *exprError {
	return &exprError{n.Location().From, fmt.Sprintf(format, args...)}
}

func compileNode(n ast.Node, sc *scope) (cexpr, *exprError) {
	switch n := n.(type) {
	case *ast.NilNode:
		return constExpr(nil), nil
	case *ast.BoolNode:
		return constExpr(n.Value), nil
	case *ast.IntegerNode:
		return constExpr(float64(n.Value)), nil
	case *ast.FloatNode:
		return constExpr(n.Value), nil
	case *ast.StringNode:
		return constExpr(n.Value), nil
	case *ast.IdentifierNode:
		slot, ok := sc.lookup(n.Value)
		if !ok {
			return cexpr{}, refuse(n, "unknown name %q (in scope: %s)", n.Value, strings.Join(sortedStrings(sc.visible()), ", "))
		}
		return cexpr{fn: func(st *state) any { return st.vals[st.base+slot] }}, nil
	case *ast.ChainNode:
		return compileNode(n.Node, sc)
	case *ast.MemberNode:
		if n.Method {
			return cexpr{}, refuse(n, "method calls are not allowed")
		}
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "params" && sc.params != nil {
			if p, ok := n.Property.(*ast.StringNode); ok && !sc.params[p.Value] {
				return cexpr{}, refuse(n.Property, "unknown parameter %q", p.Value)
			}
		}
		obj, err := compileNode(n.Node, sc)
		if err != nil {
			return cexpr{}, err
		}
		key, err := compileNode(n.Property, sc)
		if err != nil {
			return cexpr{}, err
		}
		if key.isConst {
			if k, ok := key.val.(string); ok {
				of := obj.fn
				return cexpr{fn: func(st *state) any {
					if m, ok := of(st).(map[string]any); ok {
						return m[k]
					}
					return nil
				}}, nil
			}
			kv := key.val
			of := obj.fn
			return cexpr{fn: func(st *state) any { return member(of(st), kv) }}, nil
		}
		of, kf := obj.fn, key.fn
		return cexpr{fn: func(st *state) any { return member(of(st), kf(st)) }}, nil
	case *ast.UnaryNode:
		x, err := compileNode(n.Node, sc)
		if err != nil {
			return cexpr{}, err
		}
		var f func(any) any
		switch n.Operator {
		case "!", "not":
			f = func(v any) any { return !truthy(v) }
		case "-":
			f = func(v any) any {
				if x, ok := toFloat(v); ok {
					return -x
				}
				return nil
			}
		case "+":
			f = func(v any) any {
				if x, ok := toFloat(v); ok {
					return x
				}
				return nil
			}
		default:
			return cexpr{}, refuse(n, "operator %q is not allowed", n.Operator)
		}
		if x.isConst {
			return constExpr(f(x.val)), nil
		}
		xf := x.fn
		return cexpr{fn: func(st *state) any { return f(xf(st)) }}, nil
	case *ast.BinaryNode:
		return compileBinary(n, sc)
	case *ast.ConditionalNode:
		c, err := compileNode(n.Cond, sc)
		if err != nil {
			return cexpr{}, err
		}
		a, err := compileNode(n.Exp1, sc)
		if err != nil {
			return cexpr{}, err
		}
		b, err := compileNode(n.Exp2, sc)
		if err != nil {
			return cexpr{}, err
		}
		if c.isConst {
			if truthy(c.val) {
				return a, nil
			}
			return b, nil
		}
		cf, af, bf := c.fn, a.fn, b.fn
		return cexpr{fn: func(st *state) any {
			if truthy(cf(st)) {
				return af(st)
			}
			return bf(st)
		}}, nil
	case *ast.BuiltinNode:
		return compileCall(n, n.Name, n.Arguments, sc)
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return cexpr{}, refuse(n, "only named functions can be called")
		}
		return compileCall(n, id.Value, n.Arguments, sc)
	case *ast.PredicateNode, *ast.PointerNode:
		return cexpr{}, refuse(n, "closures (#, predicates) are not allowed: screens cannot loop in expressions; use for:")
	case *ast.VariableDeclaratorNode, *ast.SequenceNode:
		return cexpr{}, refuse(n, "let and ; are not allowed in screen expressions")
	case *ast.SliceNode:
		return cexpr{}, refuse(n, "slices are not allowed in screen expressions")
	case *ast.ArrayNode, *ast.MapNode, *ast.PairNode:
		return cexpr{}, refuse(n, "array and map literals are not allowed in screen expressions")
	}
	return cexpr{}, refuse(n, "%T is not allowed in screen expressions", n)
}

func compileCall(n ast.Node, name string, args []ast.Node, sc *scope) (cexpr, *exprError) {
	f, ok := exprFuncs[name]
	if !ok {
		return cexpr{}, refuse(n, "function %q is not allowed (allowed: %s)", name, strings.Join(sortedStrings(funcNames()), ", "))
	}
	if len(args) < f.min || len(args) > f.max {
		return cexpr{}, refuse(n, "%s takes %d to %d arguments, got %d", name, f.min, f.max, len(args))
	}
	cs := make([]cexpr, len(args))
	allConst := true
	for i, a := range args {
		c, err := compileNode(a, sc)
		if err != nil {
			return cexpr{}, err
		}
		cs[i] = c
		allConst = allConst && c.isConst
	}
	if f.st != nil {
		// Depends on the zone or the date of the render: never folded.
		sc.frame.now = sc.frame.now || f.now
		stfn := f.st
		return cexpr{fn: func(st *state) any {
			var a [3]any
			for i, c := range cs {
				a[i] = c.eval(st)
			}
			return stfn(st, &a)
		}}, nil
	}
	fn := f.fn
	if allConst {
		var a [3]any
		for i, c := range cs {
			a[i] = c.val
		}
		return constExpr(fn(&a)), nil
	}
	return cexpr{fn: func(st *state) any {
		var a [3]any
		for i, c := range cs {
			a[i] = c.eval(st)
		}
		return fn(&a)
	}}, nil
}

func funcNames() []string {
	out := make([]string, 0, len(exprFuncs))
	for k := range exprFuncs {
		out = append(out, k)
	}
	return out
}

func compileBinary(n *ast.BinaryNode, sc *scope) (cexpr, *exprError) {
	switch n.Operator {
	case "..":
		return cexpr{}, refuse(n, "ranges (..) are not allowed: screens cannot loop in expressions")
	case "matches":
		return cexpr{}, refuse(n, "matches (regular expressions) is not allowed in screen expressions")
	case "**", "^":
		return cexpr{}, refuse(n, "the power operator is not allowed in screen expressions")
	}
	l, err := compileNode(n.Left, sc)
	if err != nil {
		return cexpr{}, err
	}
	r, err := compileNode(n.Right, sc)
	if err != nil {
		return cexpr{}, err
	}
	var f func(a, b any) any
	switch n.Operator {
	case "==":
		f = func(a, b any) any { return equal(a, b) }
	case "!=":
		f = func(a, b any) any { return !equal(a, b) }
	case "<", ">", "<=", ">=":
		op := n.Operator
		f = func(a, b any) any {
			c, ok := compare(a, b)
			if !ok {
				return false
			}
			switch op {
			case "<":
				return c < 0
			case ">":
				return c > 0
			case "<=":
				return c <= 0
			}
			return c >= 0
		}
	case "and", "&&", "or", "||", "??":
		// Short-circuit forms need the closures, not the values.
		lf, rf := l.eval, r.eval
		var fn evalFn
		switch n.Operator {
		case "and", "&&":
			fn = func(st *state) any { return truthy(lf(st)) && truthy(rf(st)) }
		case "or", "||":
			fn = func(st *state) any { return truthy(lf(st)) || truthy(rf(st)) }
		default:
			fn = func(st *state) any {
				if v := lf(st); v != nil {
					return v
				}
				return rf(st)
			}
		}
		if l.isConst && r.isConst {
			return constExpr(fn(nil)), nil
		}
		return cexpr{fn: fn}, nil
	case "+":
		f = func(a, b any) any {
			if x, ok := toFloat(a); ok {
				if y, ok := toFloat(b); ok {
					return x + y
				}
			}
			_, as := a.(string)
			_, bs := b.(string)
			if as || bs {
				return toText(a) + toText(b)
			}
			return nil
		}
	case "-", "*", "/", "%":
		op := n.Operator
		f = func(a, b any) any {
			x, ok1 := toFloat(a)
			y, ok2 := toFloat(b)
			if !ok1 || !ok2 {
				return nil
			}
			switch op {
			case "-":
				return x - y
			case "*":
				return x * y
			case "/":
				if y == 0 {
					return nil
				}
				return x / y
			}
			if int64(y) == 0 {
				return nil
			}
			return float64(int64(x) % int64(y))
		}
	case "in":
		f = func(a, b any) any {
			switch c := b.(type) {
			case map[string]any:
				k, ok := a.(string)
				if !ok {
					return false
				}
				_, ok = c[k]
				return ok
			case []any:
				for _, x := range c {
					if equal(a, x) {
						return true
					}
				}
			}
			return false
		}
	case "contains", "startsWith", "endsWith":
		op := n.Operator
		f = func(a, b any) any {
			s, ok1 := a.(string)
			t, ok2 := b.(string)
			if !ok1 || !ok2 {
				return false
			}
			switch op {
			case "contains":
				return strings.Contains(s, t)
			case "startsWith":
				return strings.HasPrefix(s, t)
			}
			return strings.HasSuffix(s, t)
		}
	default:
		return cexpr{}, refuse(n, "operator %q is not allowed in screen expressions", n.Operator)
	}
	if l.isConst && r.isConst {
		return constExpr(f(l.val, r.val)), nil
	}
	lf, rf := l.eval, r.eval
	return cexpr{fn: func(st *state) any { return f(lf(st), rf(st)) }}, nil
}

// choiceLiterals returns the string literals an expression can evaluate
// to, when it is a literal or a choice between literals (?:, ??). Style
// tokens and navigate targets may be such choices, so the linter can still
// check every possible value.
func choiceLiterals(src string) ([]string, bool) {
	cfg := conf.CreateNew()
	cfg.MaxNodes = maxExprNodes
	tree, err := parser.ParseWithConfig(src, cfg)
	if err != nil {
		return nil, false
	}
	return resultLiterals(tree.Node)
}

func resultLiterals(n ast.Node) ([]string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return []string{n.Value}, true
	case *ast.NilNode:
		return nil, true
	case *ast.ConditionalNode:
		a, ok1 := resultLiterals(n.Exp1)
		b, ok2 := resultLiterals(n.Exp2)
		return append(a, b...), ok1 && ok2
	case *ast.BinaryNode:
		if n.Operator == "??" {
			a, ok1 := resultLiterals(n.Left)
			b, ok2 := resultLiterals(n.Right)
			return append(a, b...), ok1 && ok2
		}
	}
	return nil, false
}
