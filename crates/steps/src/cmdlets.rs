//! The Exchange Online PowerShell a technician runs by hand when Onboard cannot
//! (no Exchange connector, or a mailbox that never appeared): one place for the
//! quoting and the cmdlets' spelling, shared by onboarding and offboarding notes.

/// A PowerShell single-quoted string: nothing in it is expanded; `'` is doubled.
pub(crate) fn ps(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `Add-DistributionGroupMember` of `member` to `group`.
pub(crate) fn add_distribution_group_member(group: &str, member: &str) -> String {
    format!(
        "Add-DistributionGroupMember -Identity {} -Member {}",
        ps(group),
        ps(member)
    )
}

/// `Remove-DistributionGroupMember` of `member` from `group`.
pub(crate) fn remove_distribution_group_member(group: &str, member: &str) -> String {
    format!(
        "Remove-DistributionGroupMember -Identity {} -Member {} -Confirm:$false",
        ps(group),
        ps(member)
    )
}

/// FullAccess (with automapping) to `mailbox` for `user`.
pub(crate) fn add_full_access(mailbox: &str, user: &str) -> String {
    format!(
        "Add-MailboxPermission -Identity {} -User {} -AccessRights FullAccess -InheritanceType All -AutoMapping $true",
        ps(mailbox),
        ps(user)
    )
}

/// SendAs on `mailbox` for `trustee`.
pub(crate) fn add_send_as(mailbox: &str, trustee: &str) -> String {
    format!(
        "Add-RecipientPermission -Identity {} -Trustee {} -AccessRights SendAs -Confirm:$false",
        ps(mailbox),
        ps(trustee)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_and_nothing_is_expanded() {
        assert_eq!(ps("O'Brien $env:X"), "'O''Brien $env:X'");
        assert_eq!(
            add_distribution_group_member("Sales & Co", "a@b.c"),
            "Add-DistributionGroupMember -Identity 'Sales & Co' -Member 'a@b.c'"
        );
        assert!(add_send_as("info@b.c", "a@b.c").ends_with("-AccessRights SendAs -Confirm:$false"));
    }
}
