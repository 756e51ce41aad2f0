package compress

import "strings"

// negotiate picks the coding for an Accept-Encoding field value (all its
// lines, RFC 9110 §12.5.3): the acceptable coding with the highest
// q-value, ties broken by the server's preference order (codings is in
// that order). A coding is acceptable when listed with q > 0, or not
// listed while "*" is with q > 0. It returns -1 for identity: no header,
// an empty one, or nothing acceptable. "x-gzip" counts as gzip. It does
// not allocate.
func negotiate(values []string, codings []*coding) int {
	var qs [3]int // per coding; New allows at most the three distinct codings
	for i := range codings {
		qs[i] = -1
	}
	star := -1
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			name, q := parseElem(elem)
			if name == "*" {
				star = max(star, q)
				continue
			}
			for i, c := range codings {
				if strings.EqualFold(name, c.name) || c.name == Gzip && strings.EqualFold(name, "x-gzip") {
					qs[i] = max(qs[i], q) // listed twice: the higher weight counts
				}
			}
		}
	}
	best, bestQ := -1, 0
	for i := range codings {
		q := qs[i]
		if q < 0 {
			q = star
		}
		if q > bestQ {
			best, bestQ = i, q
		}
	}
	return best
}

// parseElem reads `coding [; q=weight]` and returns the coding and its
// weight in thousandths (1000 when absent, 0 when malformed: a client that
// cannot write its weights is not sent a coding on a guess).
func parseElem(elem string) (string, int) {
	name, params, _ := strings.Cut(elem, ";")
	name = strings.TrimSpace(name)
	q := 1000
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q = parseQ(strings.TrimSpace(v))
	}
	return name, q
}

// parseQ reads an RFC 9110 §12.4.2 weight: "0", "1", "0.5", "1.000";
// anything else is 0.
func parseQ(v string) int {
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0
	}
	whole, frac, _ := strings.Cut(v, ".")
	if len(whole) != 1 {
		return 0
	}
	n := 0
	for i := 0; i < 3; i++ {
		d := 0
		if i < len(frac) {
			if frac[i] < '0' || frac[i] > '9' {
				return 0
			}
			d = int(frac[i] - '0')
		}
		n = n*10 + d
	}
	if whole == "1" {
		if n != 0 {
			return 0
		}
		return 1000
	}
	return n
}
