package rediscache

import (
	"context"
	"log/slog"
	"time"
)

// listen applies other instances' invalidations to the cache until Close.
// go-redis reconnects and subscribes again after a connection fails;
// listen waits between attempts and logs an outage once, when it starts
// and when it ends.
func (l *Level[K, V]) listen(ctx context.Context) {
	defer close(l.done)
	const minPause, maxPause = 10 * time.Millisecond, time.Second
	pause, failing := minPause, false
	for {
		msg, err := l.ps.ReceiveMessage(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !failing {
				failing = true
				l.cfg.log().LogAttrs(ctx, slog.LevelWarn, "rediscache: invalidation subscriber lost Redis; invalidations from other instances are missed until it is back",
					slog.String("cache", l.name), slog.String("error", err.Error()))
			}
			if sleep(ctx, pause) != nil {
				return
			}
			pause = min(2*pause, maxPause)
			continue
		}
		if failing {
			failing, pause = false, minPause
			l.cfg.log().LogAttrs(ctx, slog.LevelInfo, "rediscache: invalidation subscriber back", slog.String("cache", l.name))
		}
		l.apply(ctx, msg.Payload)
	}
}

// apply removes the key an invalidation message names from the cache,
// unless this instance sent it (its Delete removed it already).
func (l *Level[K, V]) apply(ctx context.Context, payload string) {
	n := len(l.token)
	if len(payload) < n || payload[:n] == l.token {
		return
	}
	key, err := l.keys.parse(payload[n:])
	if err != nil {
		l.cfg.log().LogAttrs(ctx, slog.LevelDebug, "rediscache: bad invalidation message",
			slog.String("cache", l.name), slog.String("error", err.Error()))
		return
	}
	l.c.Delete(key)
}
