import { ProtoReader, ProtoWriter, WireType } from '../../runtime/onnx/protobuf';

/**
 * Returns the model bytes with `metadata_props` (ModelProto field 14)
 * replaced. Every other field is copied as it was, byte for byte, so parts of
 * the model edgelstm's decoder does not read (value_info, doc strings,
 * functions) survive an import untouched.
 */
export function replaceMetadataProps(bytes: Uint8Array, props: ReadonlyMap<string, string>): Uint8Array {
  const w = new ProtoWriter();
  for (const f of new ProtoReader(bytes).fields()) {
    if (f.number === 14) continue;
    switch (f.wireType) {
      case WireType.Varint: w.int(f.number, f.varint); break;
      case WireType.LengthDelimited: w.bytes(f.number, f.bytes); break;
      default: w.rawKey(f.number, f.wireType).rawBytes(f.bytes); break;
    }
  }
  for (const [k, v] of props) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}
