package http1

import "strconv"

// StatusText returns the reason phrase for the status codes this server
// sends, or "" for any other code.
func StatusText(status int) string {
	switch status {
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 413:
		return "Content Too Large"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

// AppendStatusLine appends "HTTP/1.1 <status> <reason>\r\n" to dst. Codes
// without a known reason get an empty one, which RFC 9112 §4 allows. A status
// outside 100..999 cannot be written as three digits and is sent as 500.
func AppendStatusLine(dst []byte, status int) []byte {
	if status < 100 || status > 999 {
		status = 500
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, StatusText(status)...)
	return append(dst, "\r\n"...)
}

// AppendHeader appends "name: value\r\n" to dst. Any CR or LF in name or
// value is written as a space, so a value that came from a client cannot
// split the response.
func AppendHeader(dst []byte, name, value string) []byte {
	return appendHeader(dst, name, value)
}

// AppendHeaderBytes is AppendHeader for a []byte value.
func AppendHeaderBytes(dst []byte, name string, value []byte) []byte {
	return appendHeader(dst, name, value)
}

// AppendContentLength appends "Content-Length: n\r\n" to dst.
func AppendContentLength(dst []byte, n int) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, "\r\n"...)
}

func appendHeader[V string | []byte](dst []byte, name string, value V) []byte {
	start := len(dst)
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	for i := start; i < len(dst); i++ {
		if dst[i] == '\r' || dst[i] == '\n' {
			dst[i] = ' '
		}
	}
	return append(dst, "\r\n"...)
}
