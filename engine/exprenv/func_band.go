package exprenv

import "fmt"

func init() {
	register(Func{
		Name: "band",
		Doc: `band(x, bounds, values): the value of the band a number falls in: bounds are ascending lower bounds, values[i] is for bounds[i] <= x < bounds[i+1]; ` +
			`below the first bound, or x not a number, nil (so ?? gives a default). band(severity, [1, 4, 7, 9], [2, 3, 4, 5])`,
		Fn:    fnBand,
		Types: []any{new(func(any, []any, []any) any)},
	})
}

func fnBand(args ...any) (any, error) {
	if len(args) != 3 {
		return nil, arity("band", 3, len(args))
	}
	bounds, ok1 := args[1].([]any)
	values, ok2 := args[2].([]any)
	if !ok1 || !ok2 || len(bounds) != len(values) || len(bounds) == 0 {
		return nil, fmt.Errorf("band: bounds and values must be lists of the same, non-zero length")
	}
	x, ok := toNumber(args[0])
	if !ok {
		return nil, nil
	}
	v := x.float()
	band := -1
	for i, b := range bounds {
		n, ok := toNumber(b)
		if !ok {
			return nil, fmt.Errorf("band: bound %d is not a number: %v", i, b)
		}
		lo := n.float()
		if i > 0 && lo <= mustFloat(bounds[i-1]) {
			return nil, fmt.Errorf("band: bounds must ascend, %v after %v", b, bounds[i-1])
		}
		if v >= lo {
			band = i
		}
	}
	if band < 0 {
		return nil, nil
	}
	return values[band], nil
}

func mustFloat(v any) float64 {
	n, _ := toNumber(v)
	return n.float()
}

func (n number) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}
