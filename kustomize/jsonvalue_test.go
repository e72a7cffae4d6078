package kustomize

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSONValue(t *testing.T) {
	tests := []struct {
		name    string
		in      interface{}
		want    interface{}
		wantErr string
	}{
		{name: "scalars", in: []interface{}{1, int8(-2), int16(3), int32(4), int64(5), uint(6), uint8(7), uint16(8), uint32(9), uint64(10), float32(0.5), 1.5, "s", true, nil},
			want: []interface{}{int64(1), int64(-2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9), int64(10), 0.5, 1.5, "s", true, nil}},
		{name: "floats", in: []interface{}{3.0, math.Copysign(0, -1), float32(2), 1e21, -1e300, float64(math.MaxInt64), float64(math.MinInt64), 0.25, math.Inf(1)},
			want: []interface{}{int64(3), int64(0), int64(2), 1e21, -1e300, float64(math.MaxInt64), int64(math.MinInt64), 0.25, math.Inf(1)}},
		{name: "uint64 above int64", in: uint64(math.MaxUint64), want: float64(math.MaxUint64)},
		{name: "nested", in: map[string]interface{}{"a": []interface{}{map[string]interface{}{"b": 1}}, "c": "x"},
			want: map[string]interface{}{"a": []interface{}{map[string]interface{}{"b": int64(1)}}, "c": "x"}},
		{name: "non-string keys", in: map[string]interface{}{"m": map[interface{}]interface{}{200: 1, int64(-1): "n", uint64(math.MaxUint64): "u", 1.5: "f", true: "t", "s": []interface{}{2}}},
			want: map[string]interface{}{"m": map[string]interface{}{"200": int64(1), "-1": "n", "18446744073709551615": "u", "1.5": "f", "true": "t", "s": []interface{}{int64(2)}}}},
		{name: "colliding keys", in: map[interface{}]interface{}{1: "a", "1": "b"}, wantErr: `duplicate key "1" after converting keys to strings`},
		{name: "unsupported key", in: map[interface{}]interface{}{nil: "a"}, wantErr: "unsupported map key <nil> of type <nil>"},
		{name: "unsupported value", in: map[string]interface{}{"a": []interface{}{struct{}{}}}, wantErr: "a: [0]: unsupported value of type struct {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonValue(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
