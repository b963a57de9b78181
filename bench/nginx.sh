# Sourced by bench/serve.sh and bench/throughput.sh: nginx answering
# `return 200;` with no access log, the floor serve is compared with.
#
#   write_nginx_conf DIR PORT WORKERS   # then: nginx -p DIR -c DIR/nginx.conf
write_nginx_conf() {
    local dir=$1 port=$2 workers=$3
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server { listen 127.0.0.1:$port; location / { return 200; } }
}
CONF
}
