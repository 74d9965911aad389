// Package acceptance holds the acceptance tests of the intelligence stages
// (issue 7): the whole pipeline (fingerprint engine, asset profile,
// vulnerability evaluation with its active checks, risk) run against
//
//   - the shared lab (PORTRAIT_INTEGRATION=1), whose expected findings are
//     written down in testdata/lab-truth.yaml from the lab's configuration;
//   - lab2 (testenv/lab2, PORTRAIT_INTEGRATION=1 and PORTRAIT_LAB2=1), with
//     testdata/lab2-truth.yaml;
//   - a hardened copy: loopback servers started by the test that speak the
//     same protocols with safe settings (authentication required, TLS 1.2+
//     with a CA-issued certificate, security headers, strict SSH key
//     exchange...), on which any finding is a false positive.
//
// The tests print precision and recall; PORTRAIT_ACCEPT_REPORT=FILE also
// writes them as JSON.
package acceptance
