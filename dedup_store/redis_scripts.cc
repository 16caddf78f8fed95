#include "dedup_store/redis_scripts.h"

#include <openssl/evp.h>

#include "common/sha256.h"

namespace dedup {
namespace {

constexpr std::string_view kBeginScript = R"lua(
local v = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local attempt = 1
if v then
  local kind = string.sub(v, 1, 1)
  if kind == 'R' then
    attempt = (tonumber(string.sub(v, 2)) or 0) + 1
  elseif kind ~= 'L' then
    return {1, v}
  else
    local a, dl = string.match(v, '^L(%d+):%d+:(%d+):')
    if a then
      local left = tonumber(dl) - now
      if left > 0 then return {2, left} end
      attempt = tonumber(a) + 1
    end
  end
end
local lease = tonumber(ARGV[2])
redis.call('SET', KEYS[1],
           'L' .. attempt .. ':' .. ARGV[1] .. ':' .. string.format('%.0f', now + lease) .. ':' .. ARGV[4],
           'PX', string.format('%.0f', lease + tonumber(ARGV[3])))
return {0, attempt}
)lua";

constexpr std::string_view kCommitScript = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local tok, fp = string.match(v, '^L%d+:(%d+):%d+:(%x*)$')
if tok ~= ARGV[1] then return 0 end
local rec = ARGV[2]
if fp ~= '' then
  local bin = string.gsub(fp, '..', function(h) return string.char(tonumber(h, 16)) end)
  if string.sub(rec, 1, 1) == 'C' then
    rec = string.sub(rec, 1, 3) .. '\1' .. bin .. string.sub(rec, 5)
  else
    local s = tonumber(rec)
    rec = 'C' .. string.char(s % 256, math.floor(s / 256)) .. '\1' .. bin .. '\0\0'
  end
end
redis.call('SET', KEYS[1], rec, 'PX', ARGV[3])
return 1
)lua";

constexpr std::string_view kReleaseScript = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local a, tok = string.match(v, '^L(%d+):(%d+):')
if tok ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], 'R' .. a, 'PX', ARGV[2])
return 1
)lua";

constexpr std::string_view kRenewScript = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local a, tok, fp = string.match(v, '^L(%d+):(%d+):%d+:(%x*)$')
if tok ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('SET', KEYS[1], 'L' .. a .. ':' .. tok .. ':' .. string.format('%.0f', now + lease) .. ':' .. fp,
           'PX', string.format('%.0f', lease + tonumber(ARGV[3])))
return 1
)lua";

RedisScript makeScript(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  return RedisScript{std::string(text), toHex(digest, size)};
}

}  // namespace

RedisScripts::RedisScripts()
    : begin(makeScript(kBeginScript)),
      commit(makeScript(kCommitScript)),
      release(makeScript(kReleaseScript)),
      renew(makeScript(kRenewScript)) {}

}  // namespace dedup
