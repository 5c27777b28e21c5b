package bench

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxSourceIPs bounds the address list a --source-ips value may expand to.
const maxSourceIPs = 1024

// ParseSourceIPs parses a list of source addresses: comma-separated items, each an address ("127.0.0.1"), a range
// of addresses ("127.0.0.1-127.0.0.8") or a range shorthand that gives only the last octet of the end
// ("127.0.0.1-8"). Ranges are IPv4 only; the result keeps the order given and has no duplicates.
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) error {
		if seen[a] {
			return nil
		}
		if len(out) >= maxSourceIPs {
			return fmt.Errorf("source addresses: more than %d", maxSourceIPs)
		}
		seen[a] = true
		out = append(out, a)
		return nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		from, to, isRange := strings.Cut(item, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(from))
		if err != nil {
			return nil, fmt.Errorf("source addresses: %q: %w", item, err)
		}
		if first.Zone() != "" {
			return nil, fmt.Errorf("source addresses: %q: zones are not supported", item)
		}
		if !isRange {
			if err := add(first.Unmap()); err != nil {
				return nil, err
			}
			continue
		}
		first = first.Unmap()
		if !first.Is4() {
			return nil, fmt.Errorf("source addresses: %q: ranges are IPv4 only", item)
		}
		to = strings.TrimSpace(to)
		var last netip.Addr
		if n, err := strconv.Atoi(to); err == nil {
			if n < 0 || n > 255 {
				return nil, fmt.Errorf("source addresses: %q: last octet out of range", item)
			}
			b := first.As4()
			b[3] = byte(n)
			last = netip.AddrFrom4(b)
		} else if last, err = netip.ParseAddr(to); err != nil {
			return nil, fmt.Errorf("source addresses: %q: %w", item, err)
		}
		last = last.Unmap()
		if !last.Is4() {
			return nil, fmt.Errorf("source addresses: %q: ranges are IPv4 only", item)
		}
		if last.Less(first) {
			return nil, fmt.Errorf("source addresses: %q: range ends before it starts", item)
		}
		for a := first; ; a = a.Next() {
			if err := add(a); err != nil {
				return nil, err
			}
			if a == last {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("source addresses: empty list")
	}
	return out, nil
}
