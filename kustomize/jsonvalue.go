package kustomize

import (
	"fmt"
	"math"
	"strconv"
)

// jsonValue turns a value decoded from YAML by kyaml (yaml.v3) into the
// types of a decoded JSON document as Kubernetes uses them: int64 for
// integers, float64 for other numbers, string, bool, nil,
// map[string]interface{} and []interface{}. These are the only types
// unstructured.Unstructured's DeepCopy and the JSON encoders accept.
// Maps and slices are converted in place; only numbers and maps with
// non-string keys are replaced. As in a JSON decode of the rendered
// stream, integers above the int64 range become float64 and integral
// floats within it become int64.
func jsonValue(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case nil, string, bool, int64:
		return v, nil
	case float64:
		return floatValue(t), nil
	case int:
		return int64(t), nil
	case int8:
		return int64(t), nil
	case int16:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint:
		return uintValue(uint64(t)), nil
	case uint8:
		return int64(t), nil
	case uint16:
		return int64(t), nil
	case uint32:
		return int64(t), nil
	case uint64:
		return uintValue(t), nil
	case float32:
		return floatValue(float64(t)), nil
	case map[string]interface{}:
		for k, e := range t {
			if !needsConversion(e) {
				continue
			}
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			t[k] = c
		}
		return t, nil
	case []interface{}:
		for i, e := range t {
			if !needsConversion(e) {
				continue
			}
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			t[i] = c
		}
		return t, nil
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			ks, err := jsonKey(k)
			if err != nil {
				return nil, err
			}
			if _, dup := m[ks]; dup {
				return nil, fmt.Errorf("duplicate key %q after converting keys to strings", ks)
			}
			c, err := jsonValue(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			m[ks] = c
		}
		return m, nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
}

// needsConversion reports whether jsonValue may replace or has to walk e.
func needsConversion(e interface{}) bool {
	switch t := e.(type) {
	case nil, string, bool, int64:
		return false
	case float64:
		return isIntegral(t)
	}
	return true
}

// floatValue returns integral floats as int64, as decoding their JSON
// encoding (which has no fraction) would, so that Objects hold what a
// client decoding the YAML stream sees.
func floatValue(f float64) interface{} {
	if isIntegral(f) {
		return int64(f)
	}
	return f
}

func isIntegral(f float64) bool {
	return f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64
}

func uintValue(u uint64) interface{} {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return float64(u)
}

// jsonKey renders a non-string YAML map key the way Kubernetes' YAML to
// JSON conversion (sigs.k8s.io/yaml) does.
func jsonKey(k interface{}) (string, error) {
	switch t := k.(type) {
	case string:
		return t, nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case uint64:
		return strconv.FormatUint(t, 10), nil
	case float64:
		switch s := strconv.FormatFloat(t, 'g', -1, 32); s {
		case "+Inf":
			return ".inf", nil
		case "-Inf":
			return "-.inf", nil
		case "NaN":
			return ".nan", nil
		default:
			return s, nil
		}
	case bool:
		return strconv.FormatBool(t), nil
	default:
		return "", fmt.Errorf("unsupported map key %v of type %T", k, k)
	}
}
