package push

import (
	"context"
	"sync"
	"time"
)

// limiter spaces calls 1/rate apart. slowDown halves the rate (down to
// 1/16 of the configured one) after a 905 or 5xx; speedUp recovers 10 % per
// success up to the configured rate.
type limiter struct {
	mu   sync.Mutex
	max  float64
	rate float64
	next time.Time
}

func newLimiter(rate float64) *limiter { return &limiter{max: rate, rate: rate} }

func (l *limiter) wait(ctx context.Context) error {
	if l.max <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := time.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(time.Duration(float64(time.Second) / l.rate))
	l.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (l *limiter) slowDown() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 {
		l.rate = max(l.rate/2, l.max/16)
	}
	return l.rate
}

func (l *limiter) speedUp() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 {
		l.rate = min(l.rate*1.1, l.max)
	}
	return l.rate
}

func (l *limiter) current() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}
