"""The ECS API (AWS JSON 1.1) served by ecs-facade: `ecs-facade api` (docs/ecs-api.md).

Protocol core: model (the trimmed botocore models, models/*.json, hack/gen_ecs_api_model.py);
validate (request bodies against them); errors (the one exception handlers raise); protocol
(X-Amz-Target -> Action -> handler, bodies and errors on the wire); sigv4 (Signature Version 4
verification and the access keys); server (the aiohttp layer); options and serving (how it is
served: `ecs-facade api` on its own, `ecs-facade run --api` in the operator's process, one
build_dispatcher/build_app for both).

Actions: pure functions (request -> custom resources, custom resources -> ECS response) in
clusters and taskdefinitions, with scope (the request's namespace) and pagination; around them,
the thin layer that reads and writes the custom resources.
"""
