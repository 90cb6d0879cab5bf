package match

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Rule kinds.
const (
	RuleLast        = "last"         // keep the last N characters
	RuleStripPrefix = "strip_prefix" // drop Prefix when the number starts with it
	RuleRegexp      = "regexp"       // keep the first capture group (or the whole match) of Pattern
	RuleStripZeros  = "strip_zeros"  // drop leading zeros ("000" becomes "0")
	RulePadZeros    = "pad_zeros"    // left-pad an all-digit number with zeros to Width
	RuleUpper       = "upper"        // upper-case
)

// Rule is one normalization step of a site's vendor employee numbers. Rules
// are applied in order; a rule that does not apply (prefix absent, pattern
// not matching, number already long enough, not all digits for pad_zeros)
// leaves the number unchanged.
type Rule struct {
	Kind    string `yaml:"kind" json:"kind"` // last|strip_prefix|regexp|strip_zeros|pad_zeros|upper
	N       int    `yaml:"n,omitempty" json:"n,omitempty"`
	Prefix  string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	Width   int    `yaml:"width,omitempty" json:"width,omitempty"`
}

// String is the rule as shown in reasons: "last:6", "strip_prefix:1600",
// "regexp:^T(\d+)$", "strip_zeros", "pad_zeros:8", "upper".
func (r Rule) String() string {
	switch r.Kind {
	case RuleLast:
		return RuleLast + ":" + strconv.Itoa(r.N)
	case RuleStripPrefix:
		return RuleStripPrefix + ":" + r.Prefix
	case RuleRegexp:
		return RuleRegexp + ":" + r.Pattern
	case RulePadZeros:
		return RulePadZeros + ":" + strconv.Itoa(r.Width)
	}
	return r.Kind
}

// compiledRule is a validated rule, ready to apply.
type compiledRule struct {
	Rule
	re *regexp.Regexp
}

func compileRule(r Rule) (compiledRule, error) {
	c := compiledRule{Rule: r}
	switch r.Kind {
	case RuleLast:
		if r.N <= 0 {
			return c, fmt.Errorf("rule last: n must be positive, got %d", r.N)
		}
	case RuleStripPrefix:
		if r.Prefix == "" {
			return c, fmt.Errorf("rule strip_prefix: prefix is empty")
		}
	case RuleRegexp:
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return c, fmt.Errorf("rule regexp: %w", err)
		}
		if re.NumSubexp() > 1 {
			return c, fmt.Errorf("rule regexp %q: at most one capture group, got %d", r.Pattern, re.NumSubexp())
		}
		c.re = re
	case RuleStripZeros, RuleUpper:
	case RulePadZeros:
		if r.Width <= 0 || r.Width > 64 {
			return c, fmt.Errorf("rule pad_zeros: width must be 1..64, got %d", r.Width)
		}
	default:
		return c, fmt.Errorf("unknown rule kind %q (want last, strip_prefix, regexp, strip_zeros, pad_zeros or upper)", r.Kind)
	}
	return c, nil
}

func (c compiledRule) apply(s string) string {
	switch c.Kind {
	case RuleLast:
		r := []rune(s)
		if len(r) > c.N {
			return string(r[len(r)-c.N:])
		}
	case RuleStripPrefix:
		return strings.TrimPrefix(s, c.Prefix)
	case RuleRegexp:
		m := c.re.FindStringSubmatch(s)
		switch {
		case m == nil:
		case len(m) > 1:
			return m[1]
		default:
			return m[0]
		}
	case RuleStripZeros:
		if t := strings.TrimLeft(s, "0"); t != "" {
			return t
		}
		if s != "" {
			return "0"
		}
	case RulePadZeros:
		if len(s) < c.Width && allDigits(s) {
			return strings.Repeat("0", c.Width-len(s)) + s
		}
	case RuleUpper:
		return strings.ToUpper(s)
	}
	return s
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ruleChain is a site's compiled rules.
type ruleChain []compiledRule

func (rc ruleChain) apply(s string) string {
	for _, r := range rc {
		s = r.apply(s)
	}
	return s
}

func (rc ruleChain) String() string {
	parts := make([]string, len(rc))
	for i, r := range rc {
		parts[i] = r.Rule.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}
