-- The REST contract of DESIGN.md ("Errors") on top of the gRPC-JSON transcoder, so that Envoy
-- answers exactly as the edge does (edge/gateway.py, edge/errors.py). Inlined into
-- envoy/envoy.yaml by `coder envoy-config`; see envoy/README.md.
--
-- The filter sits before the transcoder: on the way in it sees the REST request (method, path,
-- request id), on the way out the JSON the transcoder printed. It
--   * answers a create (POST of a `Create*` RPC, marked by route metadata) 201 with
--     `Location: <path>/<id of the created resource>` instead of 200;
--   * gives an error body the HTTP status as `code` (the transcoder puts the gRPC code there),
--     412 for an ErrorInfo reason ETAG_MISMATCH, a `requestId`, and `Retry-After` from RetryInfo.
-- It also drops the gRPC response headers the transcoder leaves. Native gRPC calls pass
-- untouched.

local NAMESPACE = "envoy.filters.http.lua"
local GRPC_HEADERS = {"grpc-status", "grpc-message", "grpc-accept-encoding", "grpc-encoding"}

local function json_string(text)
  return (text:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end))
end

local function path_segment(text)
  return (text:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  local content_type = headers:get("content-type") or ""
  if content_type:find("application/grpc", 1, true) == 1 then
    return
  end
  local metadata = request_handle:streamInfo():dynamicMetadata()
  metadata:set(NAMESPACE, "method", headers:get(":method") or "")
  metadata:set(NAMESPACE, "path", (headers:get(":path") or ""):match("^[^?]*"))
  metadata:set(NAMESPACE, "requestId", headers:get("x-request-id") or "")
end

-- body() buffers the whole body and yields: header handles taken before it are then stale, so
-- the headers are fetched again after it.
local function created(response_handle, rest)
  local route = response_handle:metadata()
  if rest.method ~= "POST" or route:get("create") ~= true then
    return
  end
  local location = nil
  local field = route:get("resource") or ""
  if field ~= "" then
    local body = response_handle:body()
    local text = body:getBytes(0, body:length())
    local start = text:find('"' .. field .. '":{', 1, true)
    local id = start and text:match('"id":"([^"]*)"', start)
    if id and id ~= "" then
      location = rest.path:gsub("/+$", "") .. "/" .. path_segment(id)
    end
  end
  local headers = response_handle:headers()
  headers:replace(":status", "201")
  if location then
    headers:replace("location", location)
  end
end

local function failed(response_handle, status, rest)
  local body = response_handle:body()
  local headers = response_handle:headers()
  local text = body:getBytes(0, body:length())
  if text:find('"reason":"ETAG_MISMATCH"', 1, true) then
    status = 412
  end
  text = text:gsub('^{"code":%-?%d+', '{"code":' .. status, 1)
  if not text:find(',"requestId":"[^"]*"}%s*$') then
    text = text:gsub("}%s*$", ',"requestId":"' .. json_string(rest.requestId or "") .. '"}', 1)
  end
  if status == 429 or status == 503 then
    local delay = text:match('"retryDelay":"([%d%.]+)s"')
    if delay and not headers:get("retry-after") then
      headers:replace("retry-after", tostring(math.ceil(tonumber(delay))))
    end
  end
  body:setBytes(text)
  headers:replace(":status", tostring(status))
  headers:replace("content-length", tostring(#text))
end

function envoy_on_response(response_handle)
  local rest = response_handle:streamInfo():dynamicMetadata():get(NAMESPACE)
  if rest == nil or rest.method == nil then
    return
  end
  local headers = response_handle:headers()
  -- gRPC's response headers mean nothing to a REST client (the edge sends none).
  for _, name in ipairs(GRPC_HEADERS) do
    headers:remove(name)
  end
  local status = tonumber(headers:get(":status")) or 0
  if status == 200 then
    created(response_handle, rest)
  elseif status >= 400 then
    local content_type = headers:get("content-type") or ""
    if content_type:find("application/json", 1, true) == 1 then
      failed(response_handle, status, rest)
    end
  end
end
