# A Rack app: one line of text, the worker's pid (Puma pre-forks WEB_CONCURRENCY workers).
run lambda { |env|
  body = "ruby-rack pid=#{Process.pid} workers=#{ENV.fetch("WEB_CONCURRENCY", "?")} dyno=#{ENV.fetch("DYNO", "?")}\n"
  [200, { "content-type" => "text/plain" }, [body]]
}
