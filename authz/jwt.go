package authz

// jwtConfig is replaced by the owner of this file.
type jwtConfig struct{}
