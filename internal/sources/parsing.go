package sources

import (
	"context"
	"fmt"
)

// A body parses into several times its size: a scrape's 2 MiB into about
// 40 MiB of allocations (13 MiB of them kept as the result, measured), a JSON body
// similarly. The poller's bytes-in-flight budget counts the bodies; the
// parses, which are quick and CPU-bound (no tenant can stall one), share a
// budget of their own, reserved by each body's actual size.
const (
	ParseBudget     = 64 << 20
	parseExpansion  = 10
	parseMinReserve = 64 << 10
)

// whileParsing runs parse once the memory its body needs is reserved.
func (c *Client) whileParsing(ctx context.Context, body []byte, parse func()) error {
	cost := min(max(int64(len(body))*parseExpansion, parseMinReserve), ParseBudget)
	if err := c.parsing.Acquire(ctx, cost); err != nil {
		return fmt.Errorf("waiting to parse %d bytes: %w", len(body), err)
	}
	defer c.parsing.Release(cost)
	parse()
	return nil
}
