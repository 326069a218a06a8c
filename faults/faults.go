// Package faults injects faults on purpose. This file is the contract the
// status package builds on; the package is being written.
package faults

import "net/http"

// Injector holds the fault rules that its middleware, transport and gRPC
// interceptors apply. Its ServeHTTP is the control endpoint: GET returns
// the rules as JSON, POST replaces them, DELETE clears them.
type Injector struct{}

// ServeHTTP serves the control endpoint.
func (inj *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "faults: not implemented", http.StatusNotImplemented)
}
