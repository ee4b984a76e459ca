package gendb

import "strconv"

// Timestamps are Unix seconds plus milliseconds, rendered as Pieces does:
// {"value":"2024-03-05T12:34:56.789Z","readable":"Mar 5, 2024 at 12:34 PM"}.
const (
	epochStart = 1672531200 // 2023-01-01
	epochNow   = 1793523600 // 2026-11-01 09:00 UTC, "now" for generated data
)

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// civil converts days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// appendTime appends a timestamp object for ms milliseconds since the Unix epoch.
func appendTime(b []byte, ms int64) []byte {
	sec := ms / 1000
	y, mo, d := civil(sec / 86400)
	s := sec % 86400
	h, mi, se := s/3600, s/60%60, s%60
	b = append(b, `{"value":"`...)
	b = strconv.AppendInt(b, y, 10)
	b = append(b, '-')
	b = append2(b, mo)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, se)
	b = append(b, '.')
	f := ms % 1000
	b = append(b, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	b = append(b, `Z","readable":"`...)
	b = append(b, months[mo-1]...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, d, 10)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, y, 10)
	b = append(b, " at "...)
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	b = strconv.AppendInt(b, h12, 10)
	b = append(b, ':')
	b = append2(b, mi)
	if h < 12 {
		b = append(b, ` AM"}`...)
	} else {
		b = append(b, ` PM"}`...)
	}
	return b
}

// appendJSONString appends s as a JSON string, quotes included. Generated text is
// mostly written pre-escaped; this is for the rest.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the JSON escaping of s without quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexPairs[2*int(c)], hexPairs[2*int(c)+1])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}
