# bash completion for rustbox. Made by `make docs` from rustbox's options
# (src/request/docs.rs): edit that, not this.
_rustbox() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local i
    # After `--`: the program and its arguments, files.
    for ((i = 1; i < COMP_CWORD; i++)); do
        [[ ${COMP_WORDS[i]} == -- ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; }
    done
    case $cur in
        --seccomp=*) COMPREPLY=($(compgen -P --seccomp= -W "default off" -- "${cur#--seccomp=}")); return ;;
        --cgroup=*) COMPREPLY=($(compgen -P --cgroup= -W "auto v1 v2" -- "${cur#--cgroup=}")); return ;;
        --*=*) COMPREPLY=($(compgen -P "${cur%%=*}=" -f -- "${cur#*=}")); return ;;
    esac
    COMPREPLY=($(compgen -W "--box-id= --chdir= --cg --cg-mem= --cg-timing --no-cg-timing --dir= --no-default-dirs --env= --full-env --fsize= --stdin= --stack= --meta= --mem= --open-files= --stdout= --processes --quota= --stderr= --stderr-to-stdout --silent --time= --verbose --wall-time= --extra-time= --core= --share-net --inherit-fds --init --run --cleanup --version --help --wait --special-files --tty-hack --syscalls= --as-uid= --as-gid= --check-config --print-cg-root --json= --seccomp= --cpus= --cgroup= --check --exec --copy-in= --copy-out= --config= -b -c -d -D -E -e -f -i -k -M -m -n -o -p -q -r -s -t -v -w -x" -- "$cur"))
    [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
}
complete -F _rustbox rustbox
