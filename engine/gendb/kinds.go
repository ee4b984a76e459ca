package gendb

import "math"

// Collection indexes into kinds, for references between records.
const (
	cAnalyses = iota
	cApplications
	cAssets
	cCodeAnalyses
	cFiles
	cFormatMetrics
	cFormats
	cFragments
	cImageAnalyses
	cModels
	cOCRAnalyses
	cPersons
	cSensitives
	cTags
	cWebsites
	cRelationships
	cActivities
	cAnnotations
	cHints
	cAnchors
	cAnchorPoints
	cConversations
	cConversationMessages
	cWorkstreamEvents
	cRanges
	cWorkstreamSummaries
	cWorkstreamPatternEngineSources
	numKinds
)

// kind is one collection: its name, its share of the database's bytes, how big the
// main text of its records is, and how a record looks.
type kind struct {
	name    string
	share   float64  // of the database's bytes, before capping
	maxRecs int      // records at most, 0 for no limit
	sizes   []bucket // bytes of the record's main text; nil for records without one
	render  func(e *enc, payload int)
}

// bucket is one class of sizes: with probability p, log-uniform in [lo, hi].
type bucket struct {
	p      float64
	lo, hi int
}

var (
	codeSizes     = []bucket{{0.50, 60, 1200}, {0.38, 1200, 6000}, {0.11, 6000, 40000}, {0.01, 40000, 250000}}
	fragmentSizes = []bucket{{0.75, 40, 800}, {0.24, 800, 4000}, {0.01, 4000, 30000}}
	chatSizes     = []bucket{{0.55, 60, 1000}, {0.40, 1000, 5000}, {0.05, 5000, 24000}}
	proseSizes    = []bucket{{0.80, 60, 700}, {0.20, 700, 3000}}
	summarySizes  = []bucket{{0.70, 300, 1500}, {0.30, 1500, 6000}}
	tokenSizes    = []bucket{{0.80, 100, 1500}, {0.20, 1500, 6000}}
	shortSizes    = []bucket{{1, 20, 300}}
	eventSizes    = []bucket{{0.7, 0, 0}, {0.3, 40, 1200}}
)

// kinds lists the collections of the Pieces ExportedDatabase in the order of the
// constants above. formats, conversation messages, fragments and annotations carry
// most of the bytes, as in a real database; files and image analyses stay empty.
var kinds = [numKinds]kind{
	cAnalyses:                       {"analyses", 0.02, 0, shortSizes, (*enc).analysis},
	cApplications:                   {"applications", 0.001, 25, nil, (*enc).application},
	cAssets:                         {"assets", 0.07, 0, proseSizes, (*enc).asset},
	cCodeAnalyses:                   {"codeAnalyses", 0.04, 0, tokenSizes, (*enc).codeAnalysis},
	cFiles:                          {"files", 0, 0, nil, nil},
	cFormatMetrics:                  {"formatMetrics", 0.01, 0, nil, (*enc).formatMetric},
	cFormats:                        {"formats", 0.32, 0, codeSizes, (*enc).format},
	cFragments:                      {"fragments", 0.10, 0, fragmentSizes, (*enc).fragment},
	cImageAnalyses:                  {"imageAnalyses", 0, 0, nil, nil},
	cModels:                         {"models", 0.001, 40, nil, (*enc).model},
	cOCRAnalyses:                    {"ocrAnalyses", 0.015, 0, proseSizes, (*enc).ocrAnalysis},
	cPersons:                        {"persons", 0.005, 0, nil, (*enc).person},
	cSensitives:                     {"sensitives", 0.005, 0, nil, (*enc).sensitive},
	cTags:                           {"tags", 0.005, 0, nil, (*enc).tag},
	cWebsites:                       {"websites", 0.01, 0, nil, (*enc).website},
	cRelationships:                  {"relationships", 0.005, 0, nil, (*enc).relationship},
	cActivities:                     {"activities", 0.02, 0, nil, (*enc).activity},
	cAnnotations:                    {"annotations", 0.08, 0, proseSizes, (*enc).annotation},
	cHints:                          {"hints", 0.005, 0, nil, (*enc).hint},
	cAnchors:                        {"anchors", 0.004, 0, nil, (*enc).anchor},
	cAnchorPoints:                   {"anchorPoints", 0.004, 0, nil, (*enc).anchorPoint},
	cConversations:                  {"conversations", 0.01, 0, nil, (*enc).conversation},
	cConversationMessages:           {"conversationMessages", 0.16, 0, chatSizes, (*enc).message},
	cWorkstreamEvents:               {"workstreamEvents", 0.04, 0, eventSizes, (*enc).workstreamEvent},
	cRanges:                         {"ranges", 0.004, 0, nil, (*enc).timeRange},
	cWorkstreamSummaries:            {"workstreamSummaries", 0.04, 0, summarySizes, (*enc).workstreamSummary},
	cWorkstreamPatternEngineSources: {"workstreamPatternEngineSources", 0.001, 60, nil, (*enc).patternSource},
}

func kindByName(name string) *kind {
	for i := range kinds {
		if kinds[i].name == name {
			return &kinds[i]
		}
	}
	return nil
}

// drawSize picks the size of a record's main text.
func drawSize(r *rng, bs []bucket) int {
	if len(bs) == 0 {
		return 0
	}
	u := r.float()
	b := bs[len(bs)-1]
	for _, c := range bs {
		if u < c.p {
			b = c
			break
		}
		u -= c.p
	}
	if b.hi <= b.lo {
		return b.lo
	}
	return int(float64(b.lo) * math.Exp(r.float()*math.Log(float64(b.hi)/float64(b.lo))))
}
