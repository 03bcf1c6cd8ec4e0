"""Generated gRPC stubs of proto/parley (`make protos`); edit the .proto files."""
