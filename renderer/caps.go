package renderer

import (
	"sort"
	"strconv"
	"strings"
)

// Capabilities is what a shell says it can draw. Shells in users' pockets
// lag behind the server, so a node the shell lacks is replaced by its
// fallback instead of breaking the screen.
type Capabilities struct {
	Platform string // "ios", "android", "web"
	Version  string // shell version, informational
	// Components maps optional components (and newer versions of core ones)
	// to the highest version the shell draws. Core components are always
	// assumed at version 1.
	Components map[string]int
}

// Has reports whether the shell draws component name at version ver or
// later.
func (c Capabilities) Has(name string, ver int) bool {
	if v, ok := c.Components[name]; ok {
		return v >= ver
	}
	spec, _ := lookupComponent(name)
	return spec != nil && !spec.optional && ver <= 1
}

// String is the canonical form, stable for cache keys and Vary logging.
func (c Capabilities) String() string {
	names := make([]string, 0, len(c.Components))
	for n := range c.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(c.Platform)
	if c.Version != "" {
		b.WriteString("/" + c.Version)
	}
	b.WriteString(" (components:")
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + n + "@" + strconv.Itoa(c.Components[n]))
	}
	b.WriteString(")")
	return b.String()
}

// ParseShell reads X-Korobka-Shell, e.g. "ios/2.3 (components: list@2,
// video@1)". Garbage yields what could be read; it never fails, because an
// odd header must not stop a screen from rendering.
func ParseShell(h string) Capabilities {
	if len(h) > maxShellLen {
		h = h[:maxShellLen]
	}
	var c Capabilities
	head, rest, _ := strings.Cut(h, "(")
	head = strings.TrimSpace(head)
	c.Platform, c.Version, _ = strings.Cut(head, "/")
	c.Platform = strings.ToLower(strings.TrimSpace(c.Platform))
	c.Version = strings.TrimSpace(c.Version)
	rest, _, _ = strings.Cut(rest, ")")
	_, list, ok := strings.Cut(rest, "components:")
	if !ok {
		return c
	}
	for item := range strings.SplitSeq(list, ",") {
		if len(c.Components) >= maxComponents {
			break
		}
		name, ver, _ := strings.Cut(strings.TrimSpace(item), "@")
		name = strings.ToLower(strings.TrimSpace(name))
		if !isIdent(name) {
			continue
		}
		v := 1
		if ver != "" {
			n, err := strconv.Atoi(strings.TrimSpace(ver))
			if err != nil || n < 1 || n > 1000 {
				continue
			}
			v = n
		}
		if c.Components == nil {
			c.Components = map[string]int{}
		}
		if v > c.Components[name] {
			c.Components[name] = v
		}
	}
	return c
}
