package audit

import "bytes"

// VerifyBytes is Verify of one file's content, for the fuzz target.
func VerifyBytes(b []byte) (VerifyResult, error) {
	v := verifier{}
	err := v.file("input", bytes.NewReader(b), true)
	return v.res, err
}
