package httpapi

// mergePatch applies an RFC 7396 JSON merge patch to target and returns the result. Values are
// what encoding/json decodes into any (map[string]any for objects). Per the RFC:
//   - a patch that is not an object replaces the target wholesale;
//   - otherwise the target is treated as an object (a non-object target becomes {}), each
//     member of the patch whose value is null removes that member, and every other member is
//     merged recursively into the target's member of the same name.
//
// Arrays are values like any other: they replace, never merge. The target is not modified; the
// maps of the result are new where the patch touched them.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	out := make(map[string]any, len(t)+len(p))
	if ok {
		for k, v := range t {
			out[k] = v
		}
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}
