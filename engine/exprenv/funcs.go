package exprenv

// Func is one helper function available to mapping expressions. Each lives
// in a func_<name>.go file with its own table test, and registers itself.
type Func struct {
	Name string
	// Doc is one line for the mapping-format reference and diagnostics.
	Doc string
	// Fn is called by the expr VM with the evaluated arguments.
	Fn func(args ...any) (any, error)
	// Types are the signatures the checker accepts, as expr.Function takes
	// them: new(func(any) string), ... They make a type error a load error.
	Types []any
}

var funcs = map[string]Func{}

func register(f Func) {
	if _, dup := funcs[f.Name]; dup {
		panic("exprenv: function registered twice: " + f.Name)
	}
	funcs[f.Name] = f
}

// Funcs returns the registered helper functions by name.
func Funcs() map[string]Func { return funcs }
