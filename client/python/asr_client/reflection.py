"""Calls to any unary method of a server that serves gRPC reflection, knowing
only the method's name: the server describes its services
(grpc.reflection.v1alpha), and requests and responses are built from those
descriptions, as JSON. What grpcurl does, in Python, with no generated stubs
of the service called.

    python3 -m asr_client services 127.0.0.1:50051
    python3 -m asr_client call 127.0.0.1:50051 asr.v1.InfoService/GetServerInfo '{}'
"""
from __future__ import annotations

from typing import Dict, List, Optional

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

from asr_client._pb.grpc.reflection.v1alpha import reflection_pb2 as rpb
from asr_client._pb.grpc.reflection.v1alpha import reflection_pb2_grpc
from asr_client.client import Error, make_channel


def _ask(channel: grpc.Channel, request: rpb.ServerReflectionRequest) -> rpb.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    try:
        response = next(iter(stub.ServerReflectionInfo(iter([request]))))
    except grpc.RpcError as e:
        raise Error(e.code(), e.details() or "") from None
    if response.HasField("error_response"):
        code = response.error_response.error_code
        raise Error(next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN),
                    response.error_response.error_message)
    return response


def services(target: str, tls_ca: Optional[str] = None) -> List[str]:
    """The names of the services the server at `target` serves."""
    with make_channel(target, tls_ca) as channel:
        r = _ask(channel, rpb.ServerReflectionRequest(list_services=""))
    return sorted(s.name for s in r.list_services_response.service)


def _pool_for(channel: grpc.Channel, symbol: str) -> descriptor_pool.DescriptorPool:
    """A descriptor pool holding the file that defines `symbol` and its imports."""
    r = _ask(channel, rpb.ServerReflectionRequest(file_containing_symbol=symbol))
    files: Dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for raw in r.file_descriptor_response.file_descriptor_proto:
        f = descriptor_pb2.FileDescriptorProto.FromString(raw)
        files[f.name] = f
    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add(name: str) -> None:  # imports first
        if name in added:
            return
        f = files.get(name)
        if f is None:  # not sent: ask for it by name
            got = _ask(channel, rpb.ServerReflectionRequest(file_by_filename=name))
            for raw in got.file_descriptor_response.file_descriptor_proto:
                g = descriptor_pb2.FileDescriptorProto.FromString(raw)
                files.setdefault(g.name, g)
            f = files[name]
        for dep in f.dependency:
            add(dep)
        pool.Add(f)
        added.add(name)

    for name in list(files):
        add(name)
    return pool


def _message_class(descriptor):
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def call(target: str, method: str, request_json: str = "{}", token: Optional[str] = None,
         tls_ca: Optional[str] = None, timeout: float = 60.0) -> str:
    """Calls unary `method` ("package.Service/Method") with a request given
    as JSON; returns the response as JSON."""
    service, _, name = method.lstrip("/").partition("/")
    if not service or not name:
        raise Error(grpc.StatusCode.INVALID_ARGUMENT, f"method: '{method}' is not 'package.Service/Method'")
    with make_channel(target, tls_ca) as channel:
        pool = _pool_for(channel, service)
        m = pool.FindServiceByName(service).FindMethodByName(name)
        if m is None:
            raise Error(grpc.StatusCode.NOT_FOUND, f"method: {service} has no method '{name}'")
        if m.client_streaming or m.server_streaming:
            raise Error(grpc.StatusCode.INVALID_ARGUMENT, f"method: {method} streams; only unary methods are called")
        request_cls, response_cls = _message_class(m.input_type), _message_class(m.output_type)
        try:
            request = json_format.Parse(request_json, request_cls())
        except json_format.ParseError as e:
            raise Error(grpc.StatusCode.INVALID_ARGUMENT, f"request: {e}") from None
        rpc = channel.unary_unary(f"/{service}/{name}", request_serializer=request_cls.SerializeToString,
                                  response_deserializer=response_cls.FromString)
        try:
            response = rpc(request, timeout=timeout,
                           metadata=[("authorization", f"Bearer {token}")] if token else None)
        except grpc.RpcError as e:
            raise Error(e.code(), e.details() or "") from None
        return json_format.MessageToJson(response, preserving_proto_field_name=True)
