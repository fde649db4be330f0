package stackgen

import (
	"fmt"
	"strings"
)

// Compose returns a compose file named "big" with n services in tiers: each
// service from the 21st on depends on two of the tiers before it (one
// health-gated), and all have healthchecks; every 10th publishes a port,
// every 7th mounts one of 20 named volumes, and every 25th joins an x-pod
// group.
func Compose(n int) []byte {
	var b strings.Builder
	b.WriteString("name: big\nservices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  s%d:\n    image: img%d:1\n    environment: {ID: \"%d\"}\n", i, i%50, i)
		fmt.Fprintf(&b, "    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s}\n")
		if i%10 == 0 {
			fmt.Fprintf(&b, "    ports: [\"%d:80\"]\n", 20000+i)
		}
		if i%7 == 0 {
			fmt.Fprintf(&b, "    volumes: [\"v%d:/data\"]\n", i%20)
		}
		if i%25 == 1 {
			fmt.Fprintf(&b, "    x-pod: group%d\n", i/25)
		}
		if i >= 20 {
			fmt.Fprintf(&b, "    depends_on:\n      s%d: {condition: service_healthy}\n      s%d: {condition: service_started}\n", i-20, i-13)
		}
	}
	b.WriteString("volumes:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "  v%d: {}\n", i)
	}
	return []byte(b.String())
}
