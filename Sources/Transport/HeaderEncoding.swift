import CNGHTTP2

/// Builds nghttp2's `nghttp2_nv` array for a header block in temporary scratch memory.
/// nghttp2 copies names and values inside every `nghttp2_submit_*` call, so the scratch memory only has to
/// live for the duration of `body`.
func withNameValueArray<R>(_ headers: HTTP2Headers, _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
    var total = 0
    for field in headers.fields { total += field.name.utf8.count + field.value.utf8.count }
    // Temporary allocations live on the stack when small (every gRPC header block is), so a response
    // costs no malloc here.
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(total, 1)) { bytes in
        withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: max(headers.fields.count, 1)) { nva in
            let scratch = bytes.baseAddress!
            var offset = 0
            for (i, field) in headers.fields.enumerated() {
                let name = scratch + offset
                offset += copyUTF8(field.name, to: name)
                let value = scratch + offset
                offset += copyUTF8(field.value, to: value)
                nva[i] = nghttp2_nv(
                    name: name, value: value,
                    namelen: field.name.utf8.count, valuelen: field.value.utf8.count,
                    flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return body(UnsafePointer(nva.baseAddress!), headers.fields.count)
        }
    }
}

@inline(__always)
private func copyUTF8(_ string: String, to destination: UnsafeMutablePointer<UInt8>) -> Int {
    var s = string
    return s.withUTF8 { bytes in
        if let base = bytes.baseAddress { destination.update(from: base, count: bytes.count) }
        return bytes.count
    }
}
