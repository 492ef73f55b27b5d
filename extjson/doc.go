// Package extjson reads members of OpenRTB ext objects (json.RawMessage) in
// place, without decoding or allocating: the bid path's consent and supply
// chain checks read a few keys (regs.ext.gdpr, user.ext.consent,
// source.ext.schain, …) out of otherwise opaque extensions. It never
// unescapes: callers read values that JSON would not escape (flags, numbers,
// base64url strings, seller ids), and a string with an escape in it is
// returned as written.
package extjson
