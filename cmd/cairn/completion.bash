# bash completion for cairn. Load it in the running shell with
#   source <(cairn completion bash)
# or for every shell by saving it as ~/.local/share/bash-completion/completions/cairn.
# cairn itself names what may come next: it answers a line that ends in
# --generate-bash-completion with the commands, subcommands or flags that fit.
_cairn_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    local -a request=("${COMP_WORDS[@]:0:COMP_CWORD}")
    if [[ "$cur" == "--" ]]; then
        request+=("-") # cairn reads nothing after a "--" as a flag
    elif [[ "$cur" == -* ]]; then
        request+=("$cur")
    fi
    local answer
    answer="$("${request[@]}" --generate-bash-completion 2>/dev/null)" || return 0
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$answer" -- "$cur"))
    return 0
}
complete -o bashdefault -o default -F _cairn_complete cairn
