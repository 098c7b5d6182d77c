# Pre-forking Puma: WEB_CONCURRENCY workers (the buildpack's .profile.d sets it from the dyno's CPU
# share) accepting on one socket, $PORT.
workers Integer(ENV.fetch("WEB_CONCURRENCY", 2))
threads 1, Integer(ENV.fetch("RAILS_MAX_THREADS", 5))
port Integer(ENV.fetch("PORT", 3000))
environment ENV.fetch("RACK_ENV", "production")
preload_app!
