// A ZManager component of your own: your handlers, run by the same `serve` machinery as
// `zmanager serve`, from the same configuration file (examples/component/zmanager.yaml).
//
//   swift build --product zmanager-component-example
//   .build/debug/zmanager-component-example serve --config examples/component/zmanager.yaml
//
// The executable has the `serve`, `worker` and `keygen` subcommands of `zmanager`: serve starts
// worker processes of this same executable (workers.deployment: processes), and a worker on
// another host runs `zmanager-component-example worker --config …`, so every worker has these
// handlers. Copy this directory into your own package: examples/component/README.md.
import ZManager
import ZManagerServe

var handlers = HandlerRegistry.withBuiltins  // keep zmanager.builtin.* (or start from HandlerRegistry())

// `greeting.hello`: the body is UTF-8 text (a Swift service's split form); answers "hello, <text>".
handlers.register("greeting.hello") { request, response in
    let name = String(decoding: request.body, as: UTF8.self)
    response.setBody(Array("hello, \(name.isEmpty ? "world" : name)".utf8))
}

// `greeting.shout`: upper-cases what the previous step produced, and refuses an empty body: a
// handler that throws ends the flow with a `handler_failed` error carrying its message.
handlers.register("greeting.shout") { request, response in
    guard !request.body.isEmpty else { throw GreetingError.emptyBody }
    response.setBody(Array(String(decoding: request.body, as: UTF8.self).uppercased().utf8))
}

enum GreetingError: Error, CustomStringConvertible {
    case emptyBody
    var description: String { "greeting.shout needs a body" }
}

ZManagerComponent.main(handlers: handlers, name: "zmanager-component-example")
