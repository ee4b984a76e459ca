package repo

// Timestamps of a frame's split form (frame_split.go): the text
// YYYY-MM-DDTHH:MM:SS.mmmZ of a UTC time from 1970 to 9999, as milliseconds since
// 1970-01-01T00:00:00Z. Only text this package prints back byte for byte is parsed:
// every field in range, the day in its month, no leap second.

// maxTime is 9999-12-31T23:59:59.999Z in milliseconds.
const maxTime = 253402300799999

// timeDigits are the offsets of a timestamp's digits in its text.
var timeDigits = [17]uint8{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}

// parseTime returns the milliseconds of the timestamp whose text starts b, when it is
// one.
func parseTime(b []byte) (uint64, bool) {
	if len(b) < timeLen || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		return 0, false
	}
	for _, o := range timeDigits {
		if b[o]-'0' > 9 { // a byte below '0' wraps past 9 too
			return 0, false
		}
	}
	n := func(i, k int) uint64 {
		v := uint64(0)
		for _, c := range b[i : i+k] {
			v = v*10 + uint64(c-'0')
		}
		return v
	}
	y, mo, d := n(0, 4), n(5, 2), n(8, 2)
	h, mi, s, ms := n(11, 2), n(14, 2), n(17, 2), n(20, 3)
	if y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	return ((days*24+h)*60+mi)*60*1000 + s*1000 + ms, true
}

// putTimeText writes the text of the timestamp ms (at most maxTime) into t, 24 bytes.
func putTimeText(t []byte, ms uint64) {
	t = t[:timeLen]
	secs := ms / 1000
	y, mo, d := civilFromDays(secs / 86400)
	rem := secs % 86400
	put := func(i, k int, v uint64) {
		for j := i + k - 1; j >= i; j-- {
			t[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, y)
	t[4] = '-'
	put(5, 2, mo)
	t[7] = '-'
	put(8, 2, d)
	t[10] = 'T'
	put(11, 2, rem/3600)
	t[13] = ':'
	put(14, 2, rem/60%60)
	t[16] = ':'
	put(17, 2, rem%60)
	t[19] = '.'
	put(20, 3, ms%1000)
	t[23] = 'Z'
}

func leap(y uint64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// daysIn is the number of days of month mo (1 to 12) of year y.
func daysIn(y, mo uint64) uint64 {
	switch mo {
	case 2:
		if leap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to y-mo-d, y from 1970 on (the
// proleptic Gregorian calendar, as in Hinnant's chrono algorithms).
func daysFromCivil(y, mo, d uint64) uint64 {
	if mo <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (mo + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the date days after 1970-01-01.
func civilFromDays(days uint64) (y, mo, d uint64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	mo = (mp+2)%12 + 1
	y = yoe + era*400
	if mo <= 2 {
		y++
	}
	return y, mo, d
}
