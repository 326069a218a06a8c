package overload

import "strings"

// Class is a request's criticality. Under pressure the lowest class is
// shed first: Sheddable, then Default; Critical keeps the whole limit.
// The zero value is Default.
type Class int8

// The classes, from the first shed to the last.
const (
	Sheddable Class = -1
	Default   Class = 0
	Critical  Class = 1
)

// String returns "sheddable", "default" or "critical".
func (c Class) String() string {
	switch c {
	case Sheddable:
		return "sheddable"
	case Critical:
		return "critical"
	}
	return "default"
}

// index is c's position in per-class arrays: 0 sheddable, 1 default, 2
// critical; values out of range count as the nearest class.
func (c Class) index() int {
	switch {
	case c < Default:
		return 0
	case c > Default:
		return 2
	}
	return 1
}

// ParseClass returns the class named s ("critical", "default",
// "sheddable", in any case) and whether s names one.
func ParseClass(s string) (Class, bool) {
	switch {
	case strings.EqualFold(s, "critical"):
		return Critical, true
	case strings.EqualFold(s, "default"):
		return Default, true
	case strings.EqualFold(s, "sheddable"):
		return Sheddable, true
	}
	return Default, false
}
