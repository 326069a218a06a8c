package pavedgrpc_test

import (
	"fmt"
	"net/http"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/pavedgrpc"
)

func ExampleStatus() {
	var ErrShipped = paved.NewError(http.StatusConflict, "orders: already shipped")

	err := fmt.Errorf("cancel order 7 at db-3.internal: %w", ErrShipped)
	st := pavedgrpc.Status(err)
	fmt.Println(st.Code(), st.Message())
	// Output:
	// Aborted orders: already shipped
}
