package audit

import "bytes"

// VerifyBytes is Verify of files' contents held in memory, for the fuzz
// target and the byte-by-byte tampering test.
func VerifyBytes(files ...[]byte) (VerifyResult, error) {
	v := chainVerifier{}
	for i, b := range files {
		if err := v.file("file"+string(rune('0'+i)), bytes.NewReader(b), i == len(files)-1); err != nil {
			return v.res, err
		}
	}
	return v.res, nil
}
