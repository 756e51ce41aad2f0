package redisstore

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// List returns the keys under prefix, sorted, each joined to prefix as
// certmagic expects ("certificates" lists "certificates/acme", ...). Without
// recursive it returns the immediate children, files and directories alike;
// with it, every descendant, directories included. The empty prefix is the
// root. A prefix that is only a file lists nothing; a prefix that is neither
// file nor directory wraps fs.ErrNotExist.
//
// It reads the directory sets one level of depth per round trip; it is not a
// snapshot, so keys stored or deleted meanwhile may or may not appear.
func (s *Storage) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	prefix = strings.Trim(prefix, "/")
	var (
		children [][]string
		isFile   *redis.IntCmd
	)
	children, err := s.children(ctx, []string{prefix}, func(p redis.Pipeliner) {
		isFile = p.Exists(ctx, s.fileKey(prefix))
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %q: %w", prefix, err)
	}
	out := children[0]
	if len(out) == 0 {
		if isFile.Val() > 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("redisstore: list %q: %w", prefix, fs.ErrNotExist)
	}
	level := out
	for recursive && len(level) > 0 {
		children, err = s.children(ctx, level, nil)
		if err != nil {
			return nil, fmt.Errorf("redisstore: list %q: %w", prefix, err)
		}
		level = slices.Concat(children...)
		out = append(out, level...)
	}
	slices.Sort(out)
	return out, nil
}

// children reads the sets of dirs in one pipeline and returns, per dir, the
// full keys of its children (none for a key that is not a directory). extra
// may queue more commands in the same pipeline.
func (s *Storage) children(ctx context.Context, dirs []string, extra func(redis.Pipeliner)) ([][]string, error) {
	cmds := make([]*redis.StringSliceCmd, len(dirs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, d := range dirs {
			cmds[i] = p.SMembers(ctx, s.dirKey(d))
		}
		if extra != nil {
			extra(p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([][]string, len(dirs))
	for i, c := range cmds {
		for _, name := range c.Val() {
			out[i] = append(out[i], joinKey(dirs[i], name))
		}
	}
	return out, nil
}
