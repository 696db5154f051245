package varlink

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/varlink/go/varlink"
)

// method is one method of io.sdme: whether it changes anything (and so
// needs a root caller), and its handler.
type method struct {
	mutates bool
	handle  func(ctx context.Context, c *call) error
}

// call is a method call being served.
type call struct {
	varlink.Call
	svc *Service
}

// iface is io.sdme as github.com/varlink/go dispatches it. The library's
// generated dispatchers decode loosely and cannot send the
// org.varlink.service errors systemd clients expect, so this one is
// written by hand.
type iface struct {
	svc     *Service
	idl     string
	methods map[string]method
}

func (i *iface) VarlinkGetName() string        { return "io.sdme" }
func (i *iface) VarlinkGetDescription() string { return i.idl }

func (i *iface) VarlinkDispatch(ctx context.Context, vc varlink.Call, name string) (err error) {
	c := &call{Call: vc, svc: i.svc}
	defer func() {
		if p := recover(); p != nil {
			err = c.recovered(ctx, name, p)
		}
	}()
	m, ok := i.methods[name]
	if !ok {
		return c.ReplyMethodNotFound(ctx, "io.sdme."+name)
	}
	if m.mutates && !peerIsRoot(ctx) {
		return c.fail(ctx, replyError{"org.varlink.service.PermissionDenied", struct{}{}})
	}
	if err := m.handle(ctx, c); err != nil {
		return c.fail(ctx, errorFor(err))
	}
	return nil
}

// recovered answers a call whose handler panicked. A bug one call trips
// (a parser meeting a hostile image, say) must not end the service and
// every other client's calls with it: the stack goes to the journal, the
// caller gets io.sdme.Failed, and the connection goes on. Deferred
// cleanups (locks, staging directories) have run by now.
func (c *call) recovered(ctx context.Context, name string, p any) error {
	fmt.Fprintf(os.Stderr, "io.sdme.%s: panic: %v\n%s", name, p, debug.Stack())
	return c.fail(ctx, replyError{"io.sdme.Failed", messageParams{"internal error in io.sdme." + name + ", logged by sdme.service"}})
}

// fail sends an error reply. org.varlink.service errors are written by
// hand: the library refuses to send them, and a client must never see a
// connection closed without an answer.
func (c *call) fail(ctx context.Context, e replyError) error {
	msg, err := json.Marshal(struct {
		Error      string `json:"error"`
		Parameters any    `json:"parameters"`
	}{e.name, e.params})
	if err != nil {
		return err
	}
	if c.IsOneway() {
		return nil
	}
	_, err = c.Conn.Write(ctx, append(msg, 0))
	return err
}

// params decodes the call's parameters strictly into v and answers
// InvalidParameter naming the field if they do not fit; ok is false then.
func (c *call) params(ctx context.Context, v any, required ...string) (bool, error) {
	if field, ok := decode(c.In.Parameters, v, required...); !ok {
		return false, c.ReplyInvalidParameter(ctx, field)
	}
	return true, nil
}

// expectMore answers ExpectedMore unless the client asked for more.
func (c *call) expectMore(ctx context.Context) (bool, error) {
	if c.WantsMore() {
		return true, nil
	}
	return false, c.fail(ctx, replyError{"org.varlink.service.ExpectedMore", struct{}{}})
}
