package pavedgrpc_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/pavedgrpc"
	"google.golang.org/grpc/status"
)

func ExampleStatus() {
	var ErrShipped = paved.NewError(http.StatusConflict, "orders: already shipped")

	err := fmt.Errorf("cancel order 7 at db-3.internal: %w", ErrShipped)
	st := pavedgrpc.Status(err)
	fmt.Println(st.Code(), st.Message())
	// Output:
	// Aborted orders: already shipped
}

// A gRPC handler answers its errors with ServerError: the code from the
// vocabulary, the message of the error that decides it, and, when the
// error says when to retry, a RetryInfo detail and the
// grpc-retry-pushback-ms trailer for the client's retry policy.
func ExampleServerError() {
	var ErrNoStock = paved.NewError(http.StatusServiceUnavailable, "orders: no stock yet")
	reserve := func(ctx context.Context, sku string) error {
		err := fmt.Errorf("reserve %s at db-3.internal: %w", sku, ErrNoStock)
		return pavedgrpc.ServerError(ctx, err) // in a handler, ctx is the call's
	}
	err := reserve(context.Background(), "sku-1")
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// Unavailable orders: no stock yet
}
