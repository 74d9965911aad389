// Package ldap identifies LDAP servers by reading their root DSE with one
// anonymous base search, the request every directory must answer (RFC 4512
// §5.1) and that reveals the vendor through its advertised controls,
// extensions and vendor attributes. The BER codec is the bounded one in
// protocol/ldap/ber.
//
// Fields (all strings; multi-valued attributes are joined with ","):
//
//	ldap.result_code              SearchResultDone result code (decimal; "0" success)
//	ldap.diagnostic               diagnosticMessage of the result, if any
//	ldap.naming_contexts          namingContexts
//	ldap.default_naming_context   defaultNamingContext (Active Directory)
//	ldap.root_domain_naming_context rootDomainNamingContext (Active Directory)
//	ldap.config_context           configContext (OpenLDAP cn=config) or configurationNamingContext
//	ldap.subschema_subentry       subschemaSubentry
//	ldap.vendor_name              vendorName (RFC 3045)
//	ldap.vendor_version           vendorVersion (RFC 3045)
//	ldap.supported_versions       supportedLDAPVersion
//	ldap.controls                 supportedControl OIDs
//	ldap.extensions               supportedExtension OIDs
//	ldap.features                 supportedFeatures OIDs
//	ldap.capabilities             supportedCapabilities OIDs (Active Directory)
//	ldap.sasl_mechanisms          supportedSASLMechanisms
//	ldap.dns_host_name            dnsHostName (Active Directory)
//	ldap.server_name              serverName (Active Directory)
//	ldap.ldap_service_name        ldapServiceName (Active Directory)
//	ldap.domain_functionality     domainFunctionality (Active Directory)
//	ldap.forest_functionality     forestFunctionality (Active Directory)
//	ldap.dc_functionality         domainControllerFunctionality (Active Directory)
//	ldap.is_global_catalog_ready  isGlobalCatalogReady (Active Directory)
//	ldap.objectclass              objectClass values of the root DSE
//	ldap.structural_objectclass   structuralObjectClass
//	ldap.attributes               names of every attribute returned, lower case
//	ldap.rootdse                  the whole entry as "name: value" lines in server order
//	                              (capped at 16 KiB), so one rule can combine attributes
//	ldap.first_op                 protocolOp tag of the first answer (decimal), e.g. "4"
//	                              (entry), "5" (done), "24" (notice of disconnection)
package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/ldap/ber"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// LDAP protocolOp application tags used here.
const (
	opSearchRequest = 3
	opSearchEntry   = 4
	opSearchDone    = 5
	opSearchRef     = 19
	opExtendedResp  = 24
)

// rootDSEAttrs are requested explicitly as well as through "*" and "+":
// several servers (Active Directory, eDirectory) return some root DSE
// attributes only when named.
var rootDSEAttrs = []string{
	"*", "+",
	"namingContexts", "supportedLDAPVersion", "supportedControl", "supportedExtension",
	"supportedFeatures", "supportedSASLMechanisms", "supportedCapabilities",
	"vendorName", "vendorVersion", "dnsHostName", "defaultNamingContext",
	"rootDomainNamingContext", "configurationNamingContext",
	"domainFunctionality", "forestFunctionality", "domainControllerFunctionality",
	"serverName", "ldapServiceName", "isGlobalCatalogReady", "subschemaSubentry",
	"configContext", "objectClass", "structuralObjectClass",
}

// fieldOf maps lower-case attribute names to field names.
var fieldOf = map[string]string{
	"namingcontexts":                "ldap.naming_contexts",
	"defaultnamingcontext":          "ldap.default_naming_context",
	"rootdomainnamingcontext":       "ldap.root_domain_naming_context",
	"configcontext":                 "ldap.config_context",
	"configurationnamingcontext":    "ldap.config_context",
	"subschemasubentry":             "ldap.subschema_subentry",
	"vendorname":                    "ldap.vendor_name",
	"vendorversion":                 "ldap.vendor_version",
	"supportedldapversion":          "ldap.supported_versions",
	"supportedcontrol":              "ldap.controls",
	"supportedextension":            "ldap.extensions",
	"supportedfeatures":             "ldap.features",
	"supportedcapabilities":         "ldap.capabilities",
	"supportedsaslmechanisms":       "ldap.sasl_mechanisms",
	"dnshostname":                   "ldap.dns_host_name",
	"servername":                    "ldap.server_name",
	"ldapservicename":               "ldap.ldap_service_name",
	"domainfunctionality":           "ldap.domain_functionality",
	"forestfunctionality":           "ldap.forest_functionality",
	"domaincontrollerfunctionality": "ldap.dc_functionality",
	"isglobalcatalogready":          "ldap.is_global_catalog_ready",
	"objectclass":                   "ldap.objectclass",
	"structuralobjectclass":         "ldap.structural_objectclass",
}

// Limits on what the parser accepts from one answer.
const (
	maxMessages   = 64
	maxAttributes = 256
	maxValues     = 512
	maxValueLen   = 1024
	maxRootDSE    = 16 << 10
)

type module struct{}

// New returns the LDAP module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:     "ldap",
		Service:  "ldap",
		Ports:    []int{389, 3268},
		TLSPorts: []int{636, 3269},
		Priority: 50,
	}
}

// Claim is false: LDAP servers never speak first.
func (module) Claim([]byte) bool { return false }

// BuildRootDSESearch encodes the anonymous root DSE SearchRequest with the
// given message ID.
func BuildRootDSESearch(id int) []byte {
	var attrs []byte
	for _, a := range rootDSEAttrs {
		attrs = append(attrs, ber.EncodeString(ber.TagOctetString, a)...)
	}
	req := ber.TLV(ber.ClassApplication|ber.Constructed|opSearchRequest,
		ber.EncodeString(ber.TagOctetString, ""),            // baseObject: root DSE
		ber.EncodeInt(ber.TagEnumerated, 0),                 // scope: baseObject
		ber.EncodeInt(ber.TagEnumerated, 0),                 // derefAliases: never
		ber.EncodeInt(ber.TagInteger, 0),                    // sizeLimit
		ber.EncodeInt(ber.TagInteger, 0),                    // timeLimit
		ber.EncodeBool(false),                               // typesOnly
		ber.EncodeString(ber.ClassContext|7, "objectClass"), // filter: present
		ber.TLV(ber.TagSequence, attrs),
	)
	return ber.TLV(ber.TagSequence, ber.EncodeInt(ber.TagInteger, int64(id)), req)
}

// Attribute is one attribute of a search result entry.
type Attribute struct {
	Name   string
	Values []string
}

// Response is what the parser extracts from the answer to the root DSE
// search.
type Response struct {
	// FirstOp is the protocolOp tag of the first message.
	FirstOp int
	// Entry holds the attributes of the first SearchResultEntry.
	Entry []Attribute
	// Done is true once a SearchResultDone (or a notice of disconnection)
	// was seen.
	Done bool
	// ResultCode and Diagnostic come from the SearchResultDone or the
	// ExtendedResponse that ended the search.
	ResultCode int
	Diagnostic string
}

// ErrNotLDAP is returned by ParseResponse when the bytes are not an LDAP
// message.
var ErrNotLDAP = errors.New("ldap: not an LDAP message")

// ParseResponse decodes the LDAP messages in b (a SearchResultEntry and a
// SearchResultDone, usually). A truncated trailing message is not an error
// (Done stays false); bytes that do not form an LDAP message are ErrNotLDAP.
func ParseResponse(b []byte) (*Response, error) {
	r := &Response{ResultCode: -1, FirstOp: -1}
	for n := 0; len(b) > 0 && n < maxMessages; n++ {
		if b[0] != ber.TagSequence {
			return r, ErrNotLDAP
		}
		msg, rest, err := ber.Parse(b)
		if errors.Is(err, ber.ErrTruncated) {
			if n == 0 {
				// Still check that the header is plausible.
				if _, _, herr := ber.HeaderLen(b); herr != nil && !errors.Is(herr, ber.ErrTruncated) {
					return r, ErrNotLDAP
				}
			}
			return r, nil
		}
		if err != nil {
			return r, fmt.Errorf("%w: %v", ErrNotLDAP, err)
		}
		b = rest
		parts, err := ber.Children(msg.Content, 3)
		if err != nil || len(parts) < 2 || parts[0].Ident != ber.TagInteger || parts[1].Class != ber.ClassApplication {
			return r, ErrNotLDAP
		}
		op := parts[1]
		if n == 0 {
			r.FirstOp = op.Tag
		}
		switch op.Tag {
		case opSearchEntry:
			if r.Entry == nil {
				r.Entry, err = parseEntry(op.Content)
				if err != nil {
					return r, err
				}
			}
		case opSearchRef:
		case opSearchDone, opExtendedResp:
			code, diag, err := parseResult(op.Content)
			if err != nil {
				return r, err
			}
			r.ResultCode, r.Diagnostic, r.Done = code, diag, true
			return r, nil
		default:
			return r, fmt.Errorf("%w: unexpected protocolOp %d", ErrNotLDAP, op.Tag)
		}
	}
	return r, nil
}

func parseEntry(content []byte) ([]Attribute, error) {
	parts, err := ber.Children(content, 2)
	if err != nil || len(parts) != 2 || parts[1].Ident != ber.TagSequence {
		return nil, fmt.Errorf("ldap: bad search entry: %v", err)
	}
	list, err := ber.Children(parts[1].Content, maxAttributes)
	if err != nil {
		return nil, fmt.Errorf("ldap: bad attribute list: %w", err)
	}
	var out []Attribute
	for _, a := range list {
		kv, err := ber.Children(a.Content, 2)
		if err != nil || len(kv) != 2 {
			return nil, fmt.Errorf("ldap: bad attribute: %v", err)
		}
		vals, err := ber.Children(kv[1].Content, maxValues)
		if err != nil {
			return nil, fmt.Errorf("ldap: bad values: %w", err)
		}
		attr := Attribute{Name: clip(kv[0].Content)}
		for _, v := range vals {
			attr.Values = append(attr.Values, clip(v.Content))
		}
		out = append(out, attr)
	}
	return out, nil
}

func parseResult(content []byte) (int, string, error) {
	parts, err := ber.Children(content, 8)
	if len(parts) < 3 || parts[0].Ident != ber.TagEnumerated {
		return 0, "", fmt.Errorf("ldap: bad result: %v", err)
	}
	code, err := ber.Int(parts[0].Content)
	if err != nil {
		return 0, "", err
	}
	return int(code), clip(parts[2].Content), nil
}

func clip(b []byte) string {
	if len(b) > maxValueLen {
		b = b[:maxValueLen]
	}
	return string(b)
}

// complete reports whether b holds a whole answer: a SearchResultDone, a
// notice of disconnection, or bytes that are not LDAP at all (no point
// waiting for more).
func complete(b []byte) bool {
	r, err := ParseResponse(b)
	return err != nil || r.Done
}

// Fields turns a parsed response into evidence fields.
func (r *Response) Fields(res *protocol.Result) {
	if r.FirstOp >= 0 {
		res.Set("ldap.first_op", strconv.Itoa(r.FirstOp))
	}
	if r.Done {
		res.Set("ldap.result_code", strconv.Itoa(r.ResultCode))
	}
	res.Set("ldap.diagnostic", r.Diagnostic)
	var names []string
	var dse strings.Builder
	for _, a := range r.Entry {
		low := strings.ToLower(a.Name)
		names = append(names, low)
		for _, v := range a.Values {
			if dse.Len()+len(a.Name)+len(v)+3 > maxRootDSE {
				break
			}
			dse.WriteString(a.Name + ": " + v + "\n")
		}
		if f, ok := fieldOf[low]; ok {
			val := strings.Join(a.Values, ",")
			if old := res.Fields[f]; old != "" {
				val = old + "," + val
			}
			res.Set(f, val)
		}
	}
	res.Set("ldap.attributes", strings.Join(names, ","))
	res.Set("ldap.rootdse", dse.String())
}

func (module) Run(ctx context.Context, conn net.Conn, _ []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	req := BuildRootDSESearch(1)
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("ldap: write: %w", err)
	}
	resp, rerr := wire.ReadUntil(ctx, conn, env.Timeout, env.MaxRead, complete)
	res.Record("LDAPSearchReq", req, resp)
	if len(resp) == 0 {
		if rerr != nil {
			return nil, fmt.Errorf("ldap: read: %w", rerr)
		}
		return nil, fmt.Errorf("ldap: empty answer: %w", protocol.ErrNotThisProtocol)
	}
	r, err := ParseResponse(resp)
	if err != nil {
		return res, fmt.Errorf("%w: %v", protocol.ErrNotThisProtocol, err)
	}
	r.Fields(res)
	switch {
	case r.Done || len(r.Entry) > 0:
		res.Service, res.Confidence = "ldap", 95
	case r.FirstOp >= 0:
		res.Service, res.Confidence = "ldap", 70
	default:
		// A plausible LDAP header that never completed.
		res.Service, res.Confidence = "ldap", 40
	}
	return res, nil
}
