// Package httpx holds the net/http plumbing every paved package shares: a
// status-recording ResponseWriter that keeps http.ResponseController
// working, RFC 9457 problem+json responses, and the one mapping from the
// project's errors to HTTP status codes.
//
// Feature packages declare the status of their errors by implementing
// StatusCoder (and RetryDelayer where a client should wait), so this
// package imports none of them.
package httpx
