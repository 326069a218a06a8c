package authz

// authorizerConfig is replaced by the owner of this file.
type authorizerConfig struct{}
